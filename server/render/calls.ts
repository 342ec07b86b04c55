// The request shapes every resource module shares: one exchange (the transport), a JSON object, a list
// page unwrapped from Render's `{<key>: item, cursor}` wrappers, every page, one cursor page.
import { collectAllPages, pageSize, toCursorPage, type CursorPage, type DatedPage, type PageEntry } from './pagination.js';
import { QueryBuilder } from './query.js';
import { dateHeader, parseJsonBody, unexpectedShape, type RenderRawResponse, type RenderRequest, type Transport } from './transport.js';
import type { RenderRoute } from './types.js';

export const DEFAULT_PAGE_SIZE = 20;

export interface RenderCalls {
  /** One exchange; a non-2xx is already a RenderApiError. */
  send: Transport;
  /** The 2xx body parsed as JSON (a malformed one is a retryable bad_response). */
  json(request: RenderRequest): Promise<{ raw: RenderRawResponse; body: unknown }>;
  /** A body that must be a JSON object. */
  object<T>(request: RenderRequest): Promise<T>;
  /** A body that must be a JSON object with `check` true of it (else `what` names the shape expected). */
  shaped<T>(request: RenderRequest, what: string, check: (body: Record<string, unknown>) => boolean): Promise<T>;
  /** One list page, unwrapped from `{<key>: item, cursor}` wrappers. */
  listPage<T>(request: RenderRequest, key: string): Promise<PageEntry<T>[]>;
  /** Every page of a list (cursor, limit added to the request's query), up to `cap` items. */
  listAll<T>(request: RenderRequest, key: string, cap?: number | null): Promise<T[]>;
  /** One page of `limit` (clamped to 1..maxLimit), continuing from `cursor`. */
  cursorPage<T>(request: RenderRequest, key: string, page: { cursor?: string | null; limit?: number | null }, maxLimit?: number): Promise<CursorPage<T>>;
  /** cursorPage with the answer's Date header: Render's clock, for comparing its timestamps without our clock's skew. */
  datedCursorPage<T>(request: RenderRequest, key: string, page: { cursor?: string | null; limit?: number | null }, maxLimit?: number): Promise<DatedPage<T>>;
  /** listAll with the Date header of the last page's answer (no `nextCursor`: every page, up to `cap` items). */
  datedListAll<T>(request: RenderRequest, key: string, cap?: number | null): Promise<DatedPage<T>>;
}

export function createCalls(send: Transport): RenderCalls {
  async function json(request: RenderRequest): Promise<{ raw: RenderRawResponse; body: unknown }> {
    const raw = await send(request);
    return { raw, body: parseJsonBody(raw, request) };
  }

  async function shaped<T>(request: RenderRequest, what: string, check: (body: Record<string, unknown>) => boolean): Promise<T> {
    const { raw, body } = await json(request);
    if (!isObject(body) || !check(body)) throw unexpectedShape(raw, request, what);
    return body as T;
  }

  async function listPage<T>(request: RenderRequest, key: string): Promise<PageEntry<T>[]> {
    return (await listAnswer<T>(request, key)).entries;
  }

  async function listAnswer<T>(request: RenderRequest, key: string): Promise<{ raw: RenderRawResponse; entries: PageEntry<T>[] }> {
    const { raw, body } = await json(request);
    if (!Array.isArray(body)) throw unexpectedShape(raw, request, 'a JSON array');
    const entries = body.map((wrapper: unknown) => {
      if (!isObject(wrapper)) throw unexpectedShape(raw, request, `array items of {${key}, cursor}`);
      const entry: PageEntry<T> = {};
      if (typeof wrapper.cursor === 'string') entry.cursor = wrapper.cursor;
      if (isObject(wrapper[key])) entry.item = wrapper[key] as T;
      return entry;
    });
    return { raw, entries };
  }

  // The query is copied per page: the request's own builder stays as the caller made it.
  const withPage = (request: RenderRequest, cursor: string | null | undefined, limit: number): RenderRequest =>
    ({ ...request, query: (request.query?.copy() ?? new QueryBuilder()).set('cursor', cursor || undefined).set('limit', limit) });

  return {
    send,
    json,
    object: (request) => shaped(request, 'a JSON object', () => true),
    shaped,
    listPage,
    listAll: (request, key, cap) => collectAllPages((cursor, limit) => listPage(withPage(request, cursor, limit), key), cap),
    async datedListAll<T>(request: RenderRequest, key: string, cap?: number | null) {
      // The newest answer's: it bounds Render's clock at the list's end as well as any page's does.
      let date: number | null = null;
      const items = await collectAllPages(async (cursor, limit) => {
        const { raw, entries } = await listAnswer<T>(withPage(request, cursor, limit), key);
        date = serverDate(raw);
        return entries;
      }, cap);
      return { items, serverDate: date };
    },
    async cursorPage(request, key, page, maxLimit) {
      const limit = pageSize(page.limit, DEFAULT_PAGE_SIZE, maxLimit);
      return toCursorPage(await listPage(withPage(request, page.cursor, limit), key), limit);
    },
    async datedCursorPage<T>(request: RenderRequest, key: string, page: { cursor?: string | null; limit?: number | null }, maxLimit?: number) {
      const limit = pageSize(page.limit, DEFAULT_PAGE_SIZE, maxLimit);
      const { raw, entries } = await listAnswer<T>(withPage(request, page.cursor, limit), key);
      return { ...toCursorPage(entries, limit), serverDate: serverDate(raw) };
    },
  };
}

/** The answer's Date header (RFC 9110: when the origin made the answer, to the second) in epoch ms, or null. */
export function serverDate(raw: RenderRawResponse): number | null {
  return dateHeader(raw.header);
}

/** A request on one service (its id also names the per-service budget bucket). */
export function serviceRoute(method: RenderRequest['method'], route: RenderRoute, serviceId: string, extra: Record<string, string> = {}): RenderRequest {
  return { method, route, serviceId, pathParams: { serviceId, ...extra } };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
