import test from 'ava';

// The deployment page's log panel orders lines by timestamp (web/assets/log-panel.js). Render's are
// RFC 3339 of any precision: written by Go's RFC3339Nano a fraction loses its trailing zeros, and
// compared as text ".17Z" came after ".170645Z" and a whole second after every line within it.
const webModule = '../../web/assets/format.js';
const { timeSortKey } = (await import(webModule)) as { timeSortKey(ts: unknown): string };

test('log timestamps of any precision sort in time order', (t) => {
  const inOrder = [
    '2026-12-05T10:00:00Z',
    '2026-12-05T10:00:00.000001Z',
    '2026-12-05T10:00:00.17Z',
    '2026-12-05T10:00:00.170645Z',
    '2026-12-05T10:00:00.170645001Z',
    '2026-12-05T10:00:00.2Z',
    '2026-12-05T10:00:01Z',
    '2026-12-05T10:00:01.5z',
  ];
  const shuffled = [...inOrder].reverse();
  t.deepEqual(shuffled.sort((a, b) => (timeSortKey(a) < timeSortKey(b) ? -1 : timeSortKey(a) > timeSortKey(b) ? 1 : 0)), inOrder);
  // As Render writes them in the simulator (microseconds), the order is the text's.
  t.true(timeSortKey('2026-12-05T10:00:00.100000Z') < timeSortKey('2026-12-05T10:00:00.100001Z'));
  // Anything else is left as it is (and a missing one sorts first), never thrown on.
  t.is(timeSortKey(undefined), '');
  t.is(timeSortKey('2026-12-05T10:00:00+01:00'), '2026-12-05T10:00:00+01:00');
});
