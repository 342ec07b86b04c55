import { newId, formatUs } from '../clock.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { arrayParam, paginate } from '../pagination.js';
import { objectBody, type RouteDef } from '../router.js';
import { nextSeq, type CustomDomainRec, type ServiceRec, type SimState } from '../state.js';
import { assertSpec, serviceRoute, type RouteDeps } from './deps.js';

const POST_BODY = '/paths/~1services~1{serviceId}~1custom-domains/post/requestBody/content/application~1json/schema';
/** Suffixes of two labels, so "example.co.uk" is an apex like "example.com" (a small list: the simulator's needs). */
const TWO_LABEL_SUFFIXES = new Set(['co.uk', 'org.uk', 'com.au', 'co.jp', 'co.nz', 'com.br']);
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Only services that serve HTTP on a public URL can have domains. */
const WITH_DOMAINS = new Set<ServiceRec['type']>(['web_service', 'static_site']);

function suffixOf(name: string): { suffix: string; apex: boolean } {
  const labels = name.split('.');
  const two = labels.slice(-2).join('.');
  const suffixLabels = TWO_LABEL_SUFFIXES.has(two) ? 2 : 1;
  return { suffix: labels.slice(-suffixLabels).join('.'), apex: labels.length === suffixLabels + 1 };
}

export function presentDomain(d: CustomDomainRec) {
  return {
    id: d.id, name: d.name, domainType: d.domainType, publicSuffix: d.publicSuffix,
    redirectForName: d.redirectForName, verificationStatus: d.verificationStatus, createdAt: formatUs(d.createdUs),
  };
}

/**
 * Custom domains (docs/render-api.md §13): list, add (201 with an array: an apex also gets its www entry),
 * retrieve / delete by id or name, verify (202). A domain verifies once its DNS "exists"
 * (`sim.configureDns(name)`); a name used by any service is a 409.
 */
export function customDomainRoutes({ state, clock, recorder, spec }: RouteDeps): RouteDef[] {
  const domains = (svc: ServiceRec) => (svc.customDomains ??= []);
  const find = (svc: ServiceRec, idOrName: string) => {
    const d = domains(svc).find((x) => x.id === idOrName || x.name === idOrName);
    if (!d) throw notFound(idOrName);
    return d;
  };
  return [
    serviceRoute(state, 'GET', '/services/{serviceId}/custom-domains', (svc, { query }) => {
      const names = arrayParam(query, 'name');
      const types = arrayParam(query, 'domainType');
      const statuses = arrayParam(query, 'verificationStatus');
      const list = domains(svc)
        .filter((d) => names.length === 0 || names.includes(d.name))
        .filter((d) => types.length === 0 || types.includes(d.domainType))
        .filter((d) => statuses.length === 0 || statuses.includes(d.verificationStatus));
      return { status: 200, body: paginate(list, query, 'customDomain', presentDomain, { order: 'asc' }) };
    }),
    serviceRoute(state, 'POST', '/services/{serviceId}/custom-domains', (svc, ctx) => {
      const body = objectBody(ctx);
      assertSpec(spec.checkPointer(POST_BODY, body));
      const name = String(body.name).trim().toLowerCase().replace(/\.$/, '');
      if (!WITH_DOMAINS.has(svc.type)) throw badRequest(`custom domains are not supported for ${svc.type}`);
      // A wildcard is "*." before a domain: Render issues its certificate too (docs/render-api.md §13).
      const labels = name.split('.');
      if (labels[0] === '*') labels.shift();
      if (name.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^[0-9]+$/.test(labels.at(-1) ?? '')) {
        throw badRequest(`invalid domain name: ${name}`);
      }
      if (name.endsWith('.onrender.com') || name === 'onrender.com') throw badRequest('onrender.com domains cannot be added');
      const { suffix, apex } = suffixOf(name);
      const entries = apex ? [name, `www.${name}`] : [name];
      for (const n of entries) if (domainInUse(state, n)) throw new ApiError(409, `custom domain ${n} is already in use`);
      const nowUs = clock.nowUs();
      const created = entries.map((n, i): CustomDomainRec => ({
        seq: nextSeq(state), id: newId('cdm'), name: n, domainType: i === 0 && apex ? 'apex' : 'subdomain', publicSuffix: suffix,
        redirectForName: i === 1 ? name : '', verificationStatus: 'unverified', createdUs: nowUs,
      }));
      domains(svc).push(...created);
      svc.updatedUs = nowUs;
      recorder.audit({ ownerId: svc.ownerId, event: 'CreateCustomDomainEvent', actor: ctx.account, metadata: { service: svc.id, domain: name } });
      return { status: 201, body: created.map(presentDomain) };
    }),
    serviceRoute(state, 'GET', '/services/{serviceId}/custom-domains/{customDomainIdOrName}', (svc, { params }) => {
      return { status: 200, body: presentDomain(find(svc, params.customDomainIdOrName ?? '')) };
    }),
    serviceRoute(state, 'DELETE', '/services/{serviceId}/custom-domains/{customDomainIdOrName}', (svc, { account, params }) => {
      const d = find(svc, params.customDomainIdOrName ?? '');
      svc.customDomains = domains(svc).filter((x) => x !== d);
      svc.updatedUs = clock.nowUs();
      recorder.audit({ ownerId: svc.ownerId, event: 'DeleteCustomDomainEvent', actor: account, metadata: { service: svc.id, domain: d.name } });
      return { status: 204 };
    }),
    serviceRoute(state, 'POST', '/services/{serviceId}/custom-domains/{customDomainIdOrName}/verify', (svc, { params }) => {
      const d = find(svc, params.customDomainIdOrName ?? '');
      if ((state.dnsReady ?? []).includes(d.name)) d.verificationStatus = 'verified';
      return { status: 202 };
    }),
  ];
}

function domainInUse(state: SimState, name: string): boolean {
  for (const s of state.services.values()) if ((s.customDomains ?? []).some((d) => d.name === name)) return true;
  return false;
}
