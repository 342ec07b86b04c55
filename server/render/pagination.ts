// Cursor pagination as Render documents it (docs/render-api.md §4): a bare array of `{<resource>, cursor}`
// wrappers; the next page starts after the last item's cursor; the end is an empty page. Like
// Render's CLI we ask for 100 at a time and also stop on a short page, saving one request.

const MAX_PAGE_SIZE = 100;
// A runaway guard: a misbehaving server that keeps returning full pages cannot loop us forever.
const MAX_PAGES = 1000;

export interface PageEntry<T> {
  cursor?: string;
  item?: T;
}

export interface CursorPage<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; absent when this page was the last. */
  nextCursor?: string;
}

/** A page with the time Render answered it by its own clock (docs/render-api.md §6.3). */
export interface DatedPage<T> extends CursorPage<T> {
  /** Render's `Date` header in epoch ms (whole seconds, rounded down); null when absent or unreadable. */
  serverDate: number | null;
}

type PageFetcher<T> = (cursor: string | undefined, limit: number) => Promise<PageEntry<T>[]>;

/** Follows cursors until the end, or until `cap` items have been collected. */
export async function collectAllPages<T>(fetchPage: PageFetcher<T>, cap?: number | null): Promise<T[]> {
  const max = cap === null || cap === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.floor(cap));
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES && items.length < max; page += 1) {
    const limit = Math.min(MAX_PAGE_SIZE, max - items.length);
    const entries = await fetchPage(cursor, limit);
    for (const entry of entries) {
      if (entry.item !== undefined && items.length < max) items.push(entry.item);
    }
    if (entries.length < limit) break; // empty or short page: that was the last one
    const next = entries[entries.length - 1]?.cursor;
    if (!next || next === cursor) break; // no way forward (or a server that repeats itself)
    cursor = next;
  }
  return items;
}

/** One page, with the cursor to continue from when the page came back full. */
export function toCursorPage<T>(entries: PageEntry<T>[], limit: number): CursorPage<T> {
  const items: T[] = [];
  for (const entry of entries) if (entry.item !== undefined) items.push(entry.item);
  const page: CursorPage<T> = { items };
  const last = entries[entries.length - 1]?.cursor;
  if (entries.length >= limit && last) page.nextCursor = last;
  return page;
}

/** Clamps a caller's page size into Render's 1..max range. */
export function pageSize(limit: number | null | undefined, fallback: number, max = MAX_PAGE_SIZE): number {
  if (limit === null || limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(max, Math.max(1, Math.floor(limit)));
}
