/** The baseline: a bare Koa app answering a small JSON body, nothing else. */
import Koa from 'koa';
import { serveIpc } from './ipc.js';

const app = new Koa();
app.use((ctx) => { ctx.body = { ok: true, user: { id: 1, login: 'baseline' } }; });
const server = app.listen(0, '127.0.0.1');
await new Promise<void>((resolve) => server.once('listening', () => resolve()));
const addr = server.address();
const port = typeof addr === 'object' && addr ? addr.port : 0;
serveIpc({ ready: { url: `http://127.0.0.1:${port}` }, stop: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) });
