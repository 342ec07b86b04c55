/** Hash routes: #/, #/deploy, #/deployments/:id, #/services/:id, #/settings, #/audit, #/security. */

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parseRoute(hash) {
  const path = String(hash || '').replace(/^#/, '') || '/';
  if (path === '/' || path === '') return { name: 'dashboard' };
  if (path === '/deploy') return { name: 'deploy' };
  if (path === '/settings') return { name: 'settings' };
  if (path === '/audit') return { name: 'audit' };
  if (path === '/security') return { name: 'security' };
  const m = /^\/deployments\/([^/]+)$/.exec(path);
  if (m && ID.test(m[1])) return { name: 'deployment', id: m[1] };
  const svc = /^\/services\/([^/]+)$/.exec(path);
  if (svc && ID.test(svc[1])) return { name: 'service', id: svc[1] };
  return { name: 'notfound' };
}

/** Which nav entry a route belongs to. */
export function navKey(route) {
  return route.name === 'deployment' || route.name === 'service' ? 'dashboard' : route.name;
}
