import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../../deps.js';
import { errors } from '../../errors.js';
import { pathParam, takesNoBody, validate } from '../../middleware/validate.js';
import type { CustomDomain, Service } from '../../render/types.js';
import { asciiLowercase } from '../../deployments/input.js';
import { NoQuery } from './keyedItems.js';
import { plainRender, type settingsScope } from './scope.js';
import { documented } from '../../openapi/describe.js';
import { readBackFailed } from '../services.js';
import { CustomDomainListView, CustomDomainsAddedView, CustomDomainVerifiedView, type CustomDomainView } from './views.js';
import { RENDER_REFUSALS } from '../../middleware/errorHandler.js';

const DOMAIN_ID = /^cdm-[0-9a-z]{20}$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Render's documented address for root domains whose DNS provider has no ALIAS/ANAME (docs/render-api.md). */
const RENDER_APEX_IP = '216.24.57.1';
const DOMAIN_RULE = 'Enter a domain such as app.example.com or *.example.com: letters, digits and hyphens between dots, a * only as the whole first label, no scheme, path or port (convert Unicode names to Punycode, xn--…).';

/**
 * A host name people own: at least two labels, a non-numeric top label, not one of Render's own.
 * Render also takes a wildcard (docs/render-api.md §13): `*.` before such a name, nowhere else.
 */
function domainProblem(name: string): string | null {
  if (name.length > 253) return 'A domain name has at most 253 characters.';
  const labels = name.split('.');
  if (labels[0] === '*') labels.shift();
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return DOMAIN_RULE;
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return 'Use a domain name, not an IP address.';
  if (name === 'onrender.com' || name.endsWith('.onrender.com')) return 'onrender.com addresses are Render\'s own; the service already has one.';
  return null;
}

const DomainBody = z.object({
  name: z.string().trim().overwrite(asciiLowercase).max(300, 'A domain name has at most 253 characters.')
    .transform((v) => (v.endsWith('.') ? v.slice(0, -1) : v))
    .superRefine((v, ctx) => { const problem = domainProblem(v); if (problem) ctx.addIssue({ code: 'custom', message: problem }); }),
  _csrf: z.string().optional(),
}).strict();

/** The DNS records to create at the domain's provider for it to reach the service (docs/render-api.md). */
function dnsRecords(d: CustomDomain, target: string | null) {
  if (!target) return [];
  if (d.domainType === 'apex') {
    return [
      { type: 'ALIAS', name: d.name, value: target, note: 'ALIAS, ANAME or flattened CNAME, if your DNS provider has one' },
      { type: 'A', name: d.name, value: RENDER_APEX_IP, note: 'otherwise' },
    ];
  }
  return [{ type: 'CNAME', name: d.name, value: target, note: null }];
}

const hostOf = (svc: Service): string | null => {
  const url = (svc.serviceDetails as { url?: unknown } | undefined)?.url;
  if (typeof url !== 'string' || !url) return null;
  try { return new URL(url.includes('://') ? url : `https://${url}`).hostname; } catch { return null; }
};

export function presentDomain(d: CustomDomain, target: string | null): CustomDomainView {
  return {
    id: d.id, name: d.name, domainType: d.domainType, verificationStatus: d.verificationStatus,
    redirectForName: d.redirectForName || null, createdAt: d.createdAt, dns: dnsRecords(d, target),
  };
}

const domainIdParam = () => pathParam('domainId', DOMAIN_ID, () => errors.notFound('Custom domain'));

const DOMAIN_TYPES = new Set(['web_service', 'static_site']);

/** Custom domains of web services and static sites: add (an apex brings its www), verify, remove. */
export function customDomainRoutes(router: Router, deps: AppDeps, scope: ReturnType<typeof settingsScope>) {
  const base = '/api/render/services/:id/custom-domains';

  router.get(base, documented({ summary: 'Custom domains of a web service or static site, with the DNS records each needs', tag: 'service-settings', responses: { 200: CustomDomainListView } }), ...scope.read, validate({ query: NoQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    if (!DOMAIN_TYPES.has(service.type)) { ctx.body = { supported: false, target: null, domains: [] }; return; }
    const target = hostOf(service);
    const domains = await caller.client.listCustomDomains(service.id);
    ctx.body = { supported: true, target, apexIp: RENDER_APEX_IP, domains: domains.map((d) => presentDomain(d, target)) };
  });

  router.post(base, documented({ summary: 'Add a custom domain (an apex domain brings its www)', tag: 'service-settings', responses: { 201: CustomDomainsAddedView }, errors: RENDER_REFUSALS }), ...scope.write(), validate({ body: DomainBody }, { messages: 'as-written' }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    if (!DOMAIN_TYPES.has(service.type)) throw errors.validation('Only web services and static sites can have custom domains.', { field: 'name' });
    const { name } = ctx.input.body;
    const created = await plainRender(`the domain ${name}`, 'name', () => caller.client.addCustomDomain(service.id, name), { quote: true });
    await scope.changed(ctx, 'domain_add');
    const target = hostOf(service);
    ctx.status = 201;
    ctx.body = { domains: created.map((d) => presentDomain(d, target)) };
  });

  router.post(`${base}/:domainId/verify`, documented({ summary: 'Ask Render to verify a domain\'s DNS', tag: 'service-settings', responses: { 200: CustomDomainVerifiedView }, errors: ['render_rejected', 'render_conflict'] }), ...scope.write(), domainIdParam(), takesNoBody(), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const id = String(ctx.params.domainId);
    await plainRender('verifying the domain', null, () => caller.client.verifyCustomDomain(service.id, id), { notFound: 'Custom domain', quote: true });
    await scope.changed(ctx, 'domain_verify');
    // Done on Render: a failed read-back must not answer "try again" for it. Null: its status is unknown
    // (a 404 still fails: the domain was removed meanwhile).
    const domain = await plainRender('reading the domain', null, () => caller.client.getCustomDomain(service.id, id).catch(readBackFailed<CustomDomain | null>(ctx, 'domain_verify', null)), { notFound: 'Custom domain' });
    ctx.body = { domain: domain && presentDomain(domain, hostOf(service)) };
  });

  router.delete(`${base}/:domainId`, documented({ summary: 'Remove a custom domain', tag: 'service-settings', responses: { 204: null } }), ...scope.write(), domainIdParam(), takesNoBody(), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    await plainRender('removing the domain', null, () => caller.client.deleteCustomDomain(service.id, String(ctx.params.domainId)), { notFound: 'Custom domain' });
    await scope.changed(ctx, 'domain_delete');
    ctx.status = 204;
  });
}
