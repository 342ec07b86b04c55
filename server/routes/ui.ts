import type Router from '@koa/router';
import type Koa from 'koa';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { documented } from '../openapi/describe.js';

/** Only these file types are served from web/assets; anything else is a 404. */
const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The folder holding package.json, found by walking up from this module. Works from source (tsx runs
 * server/routes/ui.ts) and from the build (node runs dist/server/routes/ui.js; dist/ has no package.json).
 */
export function findPackageRoot(fromUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(fromUrl));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('ui: no package.json above the server code; cannot locate web/');
    dir = parent;
  }
}

interface CachedFile { mtimeMs: number; size: number; body: Buffer; etag: string }

interface UiRouteOptions {
  /** The web/ folder (index.html, assets/). Default: <package root>/web. */
  webRoot?: string;
  /** The UI's release (uiRelease(webRoot)), named in the page; computed here when not given. */
  release?: string;
}

/** The default web/ folder: <package root>/web. */
export const defaultWebRoot = () => join(findPackageRoot(), 'web');

/**
 * The release of the UI a process serves: a digest of web/ (index.html and every asset, names and bytes),
 * read once at boot. A deploy replaces the process but an open tab keeps running the modules it loaded:
 * the page names its release (`<meta name="ui-release">`) and every API answer the server's (X-UI-Release),
 * so a tab that outlived a deploy changing the UI says so and offers a reload (web/assets/api.js). A deploy
 * that leaves web/ as it was keeps the release: no tab is asked to reload for nothing.
 */
export function uiRelease(webRoot: string): string {
  const hash = createHash('sha256');
  const add = (rel: string) => {
    let body: Buffer;
    try { body = readFileSync(join(webRoot, rel)); } catch { return; }
    hash.update(`${rel}\0${body.length}\0`).update(body);
  };
  add('index.html');
  let names: string[] = [];
  try { names = readdirSync(join(webRoot, 'assets'), { recursive: true }).map(String).sort(); } catch { /* no assets */ }
  // Only what the asset route would serve (no dotfile or dot folder, a known type): a .DS_Store, a source map
  // or a precompressed copy on one process and not another made every tab offer a reload for nothing.
  const served = (name: string) => !name.split(sep).some((seg) => seg.startsWith('.')) && CONTENT_TYPES[extname(name).toLowerCase()] !== undefined;
  for (const name of names.filter(served)) add(join('assets', name));
  return hash.digest('base64url').slice(0, 16);
}

/**
 * The browser UI: GET / and /index.html give the single page, GET /assets/* its scripts and styles.
 * Files are revalidated on every use (ETag, `Cache-Control: no-cache`): asset names carry no version,
 * so a long max-age could mix modules from two releases; a 304 costs one small round trip.
 */
export function uiRoutes(router: Router, opts: UiRouteOptions = {}) {
  const webRoot = opts.webRoot ?? defaultWebRoot();
  const release = opts.release ?? uiRelease(webRoot);
  const releaseMeta = Buffer.from(`<meta name="ui-release" content="${release}">\n`);
  const assetsDir = join(webRoot, 'assets');
  // Real path, so the containment check below compares like with like (web/ may sit behind a symlink).
  const assetsRoot = existsSync(assetsDir) ? realpathSync(assetsDir) : resolve(assetsDir);
  const cache = new Map<string, CachedFile>();

  /** Reads a file (cached while its mtime and size are unchanged) or null when it is not a regular file. */
  async function load(path: string): Promise<CachedFile | null> {
    let st;
    try { st = await stat(path); } catch { return null; }
    if (!st.isFile()) return null;
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit;
    const body = await readFile(path);
    const entry = { mtimeMs: st.mtimeMs, size: st.size, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    cache.set(path, entry);
    return entry;
  }

  function send(ctx: Koa.Context, file: CachedFile, type: string) {
    ctx.set('ETag', file.etag);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = type;
    ctx.status = 200; // koa judges freshness only for a 2xx response
    if (ctx.fresh) { ctx.status = 304; return; }
    ctx.body = file.body;
  }

  /** index.html with its release named in the head; its ETag covers the release too (an asset changed, the page did not). */
  let named: { from: CachedFile; file: CachedFile } | undefined;
  const withRelease = (file: CachedFile): CachedFile => {
    if (named?.from === file) return named.file;
    const at = file.body.indexOf('</head>');
    const body = at < 0 ? file.body : Buffer.concat([file.body.subarray(0, at), releaseMeta, file.body.subarray(at)]);
    const etag = `"${createHash('sha256').update(file.etag).update(release).digest('base64url').slice(0, 27)}"`;
    named = { from: file, file: { ...file, body, etag } };
    return named.file;
  };
  const page = async (ctx: Koa.Context) => {
    const file = await load(join(webRoot, 'index.html'));
    if (!file) { ctx.status = 404; ctx.body = 'UI not found'; return; }
    send(ctx, withRelease(file), 'text/html; charset=utf-8');
  };
  const pageDoc = documented({ summary: 'The web UI', tag: 'ui', responses: { 200: { contentType: 'text/html', description: 'The single page.' }, 304: null, 404: { contentType: 'text/plain', description: 'The UI is not installed.' } } });
  router.get('/', pageDoc, page);
  router.get('/index.html', pageDoc, page);

  router.get('/assets/{*path}', documented({
    summary: 'The UI\'s scripts, styles and images', tag: 'ui',
    responses: { 200: { contentType: '*/*', description: 'The file (ETag; Cache-Control: no-cache).' }, 304: null, 404: { contentType: 'text/plain', description: 'No such file.' } },
  }), async (ctx) => {
    const rel = typeof ctx.params.path === 'string' ? ctx.params.path : '';
    const file = await resolveAsset(assetsRoot, rel);
    const type = CONTENT_TYPES[extname(rel).toLowerCase()];
    const loaded = file && type ? await load(file) : null;
    if (!loaded || !type) { ctx.status = 404; ctx.type = 'text/plain'; ctx.body = 'Not found'; return; }
    send(ctx, loaded, type);
  });
}

/**
 * Maps a request path to a file inside `root`, or null. Rejects dot segments, backslashes, NUL and
 * hidden files before touching the disk, then checks the real path (symlinks included) stays inside.
 */
async function resolveAsset(root: string, rel: string): Promise<string | null> {
  if (!rel || rel.length > 200 || /[\\\0]/.test(rel)) return null;
  const segments = rel.split('/');
  if (segments.some((s) => s === '' || s.startsWith('.'))) return null;
  const candidate = resolve(root, ...segments);
  if (!candidate.startsWith(root + sep)) return null;
  try {
    const real = realpathSync(candidate);
    return real.startsWith(root + sep) ? real : null;
  } catch { return null; }
}
