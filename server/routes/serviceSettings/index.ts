import type Router from '@koa/router';
import type { AppDeps } from '../../deps.js';
import { customDomainRoutes } from './customDomains.js';
import { deployRoutes } from './deploys.js';
import { envVarRoutes } from './envVars.js';
import { settingsScope } from './scope.js';
import { secretFileRoutes } from './secretFiles.js';
import { settingsRoutes } from './settings.js';

/**
 * A deployed service's settings page: env vars, secret files, custom domains, auto-deploy /
 * previews / scale / plan / health check, and its deploy history. Audited and probe-checked like the
 * lifecycle routes, every Render call through the caller's own key.
 */
export function serviceSettingsRoutes(router: Router, deps: AppDeps) {
  const scope = settingsScope(deps);
  envVarRoutes(router, scope);
  secretFileRoutes(router, scope);
  customDomainRoutes(router, deps, scope);
  settingsRoutes(router, deps, scope);
  deployRoutes(router, deps, scope);
}
