import type Router from '@koa/router';
import { documented } from './describe.js';
import { buildOpenApiDocument, type DocumentOptions } from './document.js';

/**
 * GET /api/openapi.json (public): the document for the router it is mounted on, built on first use
 * (every route is mounted by then) and kept, as the routes never change while the process runs.
 */
export function openApiRoutes(router: Router, opts: DocumentOptions) {
  let text: string | null = null;
  router.get('/api/openapi.json', documented({
    summary: 'This API, described (OpenAPI 3.1)',
    tag: 'meta',
    responses: { 200: { contentType: 'application/json', description: 'An OpenAPI 3.1 document: every route, its parameters, answers, security and error codes.' } },
  }), (ctx) => {
    text ??= JSON.stringify(buildOpenApiDocument(router, opts));
    ctx.type = 'application/json';
    ctx.body = text;
  });
}
