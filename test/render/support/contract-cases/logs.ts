// Contract cases for the log calls: one page, paging by time window, collecting pages.
import * as fx from '../fixtures.js';
import { only, scripted, type ContractCases } from '../scripted.js';

export const logsCases = {
  async listLogs(t) {
    const next = { start: '2024-12-02T18:00:00Z', end: '2024-12-02T18:10:00Z' };
    const date = 'Mon, 02 Dec 2024 18:24:16 GMT';
    const { server, client } = await scripted(t, { 'list-logs': () => ({ status: 200, headers: { Date: date }, json: fx.logsPage(['l1', 'l2'], true, next) }) });
    const page = await client.listLogs({
      ownerId: fx.OWNER_ID,
      resource: [fx.SERVICE_ID, 'srv-second'],
      type: ['build', 'app'],
      startTime: new Date('2024-12-02T17:00:00Z'),
      endTime: null,
      direction: 'forward',
      limit: 50,
    });
    t.deepEqual(page.logs.map((l) => l.id), ['l1', 'l2']);
    t.true(page.hasMore);
    t.is(page.nextStartTime, next.start);
    t.is(page.serverDate, Date.parse(date), 'Render\'s clock at the answer (§6.3)');
    const request = only(t, server.requests);
    t.is(
      request.rawQuery,
      `ownerId=${fx.OWNER_ID}&resource=${fx.SERVICE_ID}&resource=srv-second&startTime=2024-12-02T17%3A00%3A00.000Z&direction=forward&type=build&type=app&limit=50`,
    );
    t.deepEqual(server.violations, []);
  },

  async logPages(t) {
    const windows = [
      { start: '2024-12-02T18:00:00Z', end: '2024-12-02T18:10:00Z' },
      { start: '2024-12-02T18:10:00Z', end: '2024-12-02T18:20:00Z' },
    ];
    let n = 0;
    const { server, client } = await scripted(t, {
      'list-logs': () => {
        n += 1;
        return { status: 200, json: fx.logsPage([`p${n}`], n < 3, windows[Math.min(n, 2) - 1]!) };
      },
    });
    const seen: string[] = [];
    for await (const page of client.logPages({ ownerId: fx.OWNER_ID, resource: fx.SERVICE_ID })) seen.push(...page.logs.map((l) => l.id));
    t.deepEqual(seen, ['p1', 'p2', 'p3']);
    // Each next request uses the previous page's nextStartTime/nextEndTime (docs/render-api.md §8).
    t.is(server.requests[1]!.query.get('startTime'), windows[0]!.start);
    t.is(server.requests[1]!.query.get('endTime'), windows[0]!.end);
    t.is(server.requests[2]!.query.get('startTime'), windows[1]!.start);
    t.deepEqual(server.violations, []);
  },

  async collectLogs(t) {
    let n = 0;
    const { server, client } = await scripted(t, {
      'list-logs': () => {
        n += 1;
        const start = `2024-12-02T18:${String(n).padStart(2, '0')}:00Z`;
        return { status: 200, json: fx.logsPage([`e${n}`], true, { start, end: '2024-12-02T19:00:00Z' }) };
      },
    });
    // Render always says hasMore here: the helper stops at maxPages and reports that more exist.
    const result = await client.collectLogs({ ownerId: fx.OWNER_ID, resource: [fx.SERVICE_ID] }, { maxPages: 4 });
    t.deepEqual(result.logs.map((l) => l.id), ['e1', 'e2', 'e3', 'e4']);
    t.true(result.hasMore);
    t.is(server.requests.length, 4);
    t.deepEqual(server.violations, []);
  },
} satisfies ContractCases;
