// Logs (docs/render-api.md §8): one page by time window, or the pages of a window one after another.
import { pageSize } from '../pagination.js';
import { QueryBuilder, type Many } from '../query.js';
import { DEFAULT_PAGE_SIZE, isObject, serverDate, type RenderCalls } from '../calls.js';
import { unexpectedShape, type RenderRequest } from '../transport.js';
import { RenderApiError } from '../errors.js';
import type { LogDirection, LogsResponse } from '../types.js';

export interface ListLogsParams {
  ownerId: string;
  resource: string | readonly string[];
  type?: Many<string>;
  level?: Many<string>;
  text?: Many<string>;
  instance?: Many<string>;
  startTime?: string | Date | null;
  endTime?: string | Date | null;
  direction?: LogDirection | null;
  /** Entries per page, 1–100 (Render's default 20). */
  limit?: number | null;
}

/** A page of logs with Render's clock at the answer (its Date header, epoch ms; null when absent or unreadable). */
export type DatedLogs = LogsResponse & { serverDate: number | null };

export interface LogPagingOptions {
  /** Stop after this many pages even if Render says there is more (default 10). */
  maxPages?: number;
}

export interface LogsApi {
  /** One page of logs; continue with nextStartTime/nextEndTime while hasMore. */
  listLogs(params: ListLogsParams): Promise<DatedLogs>;
  /** Pages through logs by time window, at most `maxPages` pages. */
  logPages(params: ListLogsParams, options?: LogPagingOptions): AsyncGenerator<DatedLogs, void, undefined>;
}

const DEFAULT_LOG_PAGES = 10;
type LogWindow = { startTime: string; endTime: string };

export function logsApi(calls: RenderCalls): LogsApi {
  async function fetchLogs(params: ListLogsParams, window?: LogWindow): Promise<DatedLogs> {
    for (let limit = params.limit ?? DEFAULT_PAGE_SIZE; ; limit = Math.ceil(limit / 2)) {
      const request: RenderRequest = { method: 'GET', route: '/logs', query: logsQuery({ ...params, limit }, window) };
      try {
        const { raw, body } = await calls.json(request);
        if (!isObject(body) || !Array.isArray(body.logs)) throw unexpectedShape(raw, request, 'a logs page');
        return { ...(body as unknown as LogsResponse), serverDate: serverDate(raw) };
      } catch (err) {
        // Lines of megabytes: a page too large for one answer is read again with fewer lines (its
        // hasMore and next times then say where the rest is), down to one line.
        if (!(err instanceof RenderApiError && err.tooLarge && limit > 1)) throw err;
      }
    }
  }

  async function* logPages(params: ListLogsParams, options: LogPagingOptions = {}): AsyncGenerator<DatedLogs, void, undefined> {
    const maxPages = Math.max(1, Math.floor(options.maxPages ?? DEFAULT_LOG_PAGES));
    let window: LogWindow | undefined;
    for (let page = 0; page < maxPages; page += 1) {
      const result = await fetchLogs(params, window);
      yield result;
      if (!result.hasMore || !result.nextStartTime || !result.nextEndTime) return;
      const next = { startTime: result.nextStartTime, endTime: result.nextEndTime };
      // A window that does not move would return the same page forever.
      if (window && next.startTime === window.startTime && next.endTime === window.endTime) return;
      window = next;
    }
  }

  return { listLogs: (params) => fetchLogs(params), logPages };
}

function logsQuery(params: ListLogsParams, window?: LogWindow): QueryBuilder {
  return new QueryBuilder()
    .set('ownerId', params.ownerId)
    .repeated('resource', params.resource)
    .set('startTime', window?.startTime ?? params.startTime)
    .set('endTime', window?.endTime ?? params.endTime)
    .set('direction', params.direction)
    .repeated('type', params.type)
    .repeated('level', params.level)
    .repeated('text', params.text)
    .repeated('instance', params.instance)
    .set('limit', params.limit === null || params.limit === undefined ? undefined : pageSize(params.limit, DEFAULT_PAGE_SIZE));
}
