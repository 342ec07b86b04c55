import type Koa from 'koa';
import type { DefaultState } from 'koa';
import type { RouterMiddleware } from '@koa/router';
import type { AppDeps } from '../../deps.js';
import { AppError, errors } from '../../errors.js';
import { RenderApiError, RenderKeyWithdrawn } from '../../render/errors.js';
import { answerWithdrawn, heldCallerRender, whileKeyHeld, type CallerRender } from '../../render/forRequest.js';
import type { Service } from '../../render/types.js';
import { requireCsrf } from '../../middleware/security.js';
import { requireRenderKey, requireUser, type RenderKeyState } from '../../middleware/context.js';
import { auditServiceAction, forgetDeletedService, serviceChanged, serviceIdParam, type ServiceAction } from '../services.js';
import type { RouteLimitName } from '../../security/routeLimits.js';
import { inItemTurn, retireSecrets, retiredDeps, runningDeploysOf, secretsChanged, type Retiring } from '../../deployments/retiredSecrets.js';
import { noteSettingsChange, retireSeenOthers } from '../../deployments/seenSecrets.js';
import { isGone } from '../../render/serviceOverview.js';
import type { RenderClient } from '../../render/client.js';
import { renderSaid } from '../../middleware/errorHandler.js';

/** What the settings routes record in the audit trail (detail.lifecycleAction). */
export type SettingsAction =
  | 'env_var_set' | 'env_var_delete' | 'env_var_reveal'
  | 'secret_file_set' | 'secret_file_delete' | 'secret_file_reveal'
  | 'domain_add' | 'domain_delete' | 'domain_verify'
  | 'settings_update' | 'clear_cache_redeploy';

/** The caller's service, loaded once per request by `ownService`. */
interface OwnService { caller: CallerRender; service: Service }
/** What `ownService` adds to the request's state: `ctx.state.own`. */
export interface OwnServiceState extends RenderKeyState { own: OwnService }

/**
 * The chains every settings route shares. Scoping is the lifecycle routes': the service must be one
 * the caller's own key sees, in a workspace this session was set up with; anything else (another
 * tenant's id, a deleted service, a malformed id) is the same 404, reported to probe detection.
 */
export function settingsScope(deps: AppDeps) {
  const serviceId = serviceIdParam();

  /** Loads the service through the caller's key; must come after validation (no Render call on bad input). */
  const ownService: RouterMiddleware<DefaultState & OwnServiceState> = async (ctx, next) => {
    // Every call of the route, this one included, only while the session holds the key (heldCallerRender).
    const caller = heldCallerRender(deps, ctx.state);
    const serviceId = String(ctx.params.id);
    let service: Service | null = null;
    try {
      service = await caller.client.getService(serviceId);
    } catch (err) {
      if (err instanceof RenderKeyWithdrawn) await answerWithdrawn(deps, caller);
      if (!(err instanceof RenderApiError && err.kind === 'not_found')) throw err;
      await forgetDeletedService(deps, ctx.state, serviceId);
    }
    // Gone on Render, or in a workspace this session was not set up with: the same 404.
    if (!service || !caller.ownerIds.includes(service.ownerId)) {
      await deps.security.notFound(ctx, 'service');
      throw errors.notFound('Service');
    }
    ctx.state.own = { caller, service } satisfies OwnService;
    try {
      await next();
    } catch (err) {
      if (err instanceof RenderKeyWithdrawn) await answerWithdrawn(deps, caller);
      // Render's 404 for the service itself after it was found here: deleted meanwhile (on the Render
      // Dashboard, by another tab). The same answer, and the same records, as when it was gone before.
      // A call about one of its items (an env var, a file, a domain) answers the item's 404 (plainRender)
      // for a deleted service too: Render is asked once whether the service is still there.
      const gone = (err instanceof RenderApiError && err.kind === 'not_found')
        || (err instanceof AppError && err.status === 404 && await isGone(caller.client, serviceId).catch((askErr: unknown) => {
          if (askErr instanceof RenderKeyWithdrawn) return false; // not asked: the item's 404 stands
          throw askErr;
        }));
      if (!gone) throw err;
      await forgetDeletedService(deps, ctx.state, serviceId);
      await deps.security.notFound(ctx, 'service');
      throw errors.notFound('Service');
    }
  };

  return {
    /** GET routes: signed in, a Render key, a well-formed id. Validation and then `ownService` follow. */
    read: [requireUser(), serviceId, requireRenderKey()] as const,
    /** State-changing routes: the same plus CSRF and the route's limit, before anything happens. */
    write: (limit: RouteLimitName = 'serviceSettings') =>
      [requireUser(), requireCsrf(), serviceId, requireRenderKey(), deps.rateLimits.guard(limit)] as const,
    ownService,
    /** After a change: the cached service list is stale, and the audit trail records it (with the deployment a redeploy started). */
    async changed(ctx: Koa.ParameterizedContext<DefaultState & OwnServiceState>, action: ServiceAction, deploymentId?: string) {
      const { caller, service } = ctx.state.own;
      await serviceChanged(deps, ctx, caller, action, service.id, deploymentId);
    },
    /**
     * Before a value is replaced or removed: still redacted from the logs of deploys that run with it.
     * Past the cap, which deploys run is asked of Render with the caller's key (one read, newest first).
     */
    retire: (client: RenderClient, serviceId: string, values: Retiring[]) =>
      retireSecrets(retiredDeps(deps), serviceId, values, deps.clock.now(), runningDeploysOf(client, deps.clock, serviceId)),
    /**
     * Render calls made after a wait (an item's turn, up to 20 s): each only while the request's session
     * still holds its key. Withdrawn meanwhile (sign-out, cleared, replaced), the change is not made and
     * is answered as a request sent then: 401, render_key_missing, or (another key) a 503 to try again.
     */
    whileKeyHeld: <T>(caller: CallerRender, use: (client: RenderClient) => Promise<T>): Promise<T> =>
      whileKeyHeld(deps, caller, use, 'Your Render key changed while this change waited for its turn. Nothing was changed; try again.'),
    /**
     * A change of one item (`env-vars/KEY`, or `settings`: a save of the service's settings) while no other
     * change of it runs; `holdMs` for a change of more Render calls than an item's (inItemTurn).
     */
    inItemTurn: <T>(serviceId: string, item: string, change: () => Promise<T>, holdMs?: number) => inItemTurn(retiredDeps(deps), serviceId, item, change, undefined, holdMs),
    /** Before `replaced` is retired: the item's values changed on the Dashboard since the last log read are retired first. */
    retireSeenOthers: (client: RenderClient, serviceId: string, item: string, replaced: string | null) => retireSeenOthers(retiredDeps(deps), deps.clock, client, serviceId, item, replaced),
    /** After Render took a change of `item`, `dropped` retired: the stored view of its values has the new one (`value` null: removed). Best effort: a failure costs a value kept twice. */
    seenChanged: (serviceId: string, item: string, dropped: Array<string | null>, value: string | null) => noteSettingsChange(retiredDeps(deps), serviceId, item, dropped, value).catch(() => undefined),
    /** After a value was set or removed on Render: live tails redact with the service's values read again. */
    secretsChanged: (serviceId: string) => secretsChanged(retiredDeps(deps), serviceId),
    /** After a read worth recording (a value revealed): audited, while the cached service list stays valid. */
    async audited(ctx: Koa.ParameterizedContext<DefaultState & OwnServiceState>, action: ServiceAction) {
      const { caller, service } = ctx.state.own;
      await auditServiceAction(deps, ctx, caller, action, service.id);
    },
  };
}

/**
 * Render's 4xx answers to a settings change, in plain words, on the field they concern (a 404 is about
 * the item `notFound` names, unless `ownService` then finds the service gone; without one it is left to
 * `ownService`: the service is gone). Render's own
 * message is quoted only where it cannot carry a secret (never for env var values or file contents).
 */
export async function plainRender<T>(what: string, field: string | null, call: () => Promise<T>, opts: { quote?: boolean; notFound?: string; read?: boolean } = {}): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof RenderApiError)) throw err;
    const said = opts.quote ? renderSaid(err) : '';
    const details = field ? { field } : undefined;
    // `read`: a reveal, refused as a read (there was no change to speak of).
    const unchanged = opts.read ? '' : ' Nothing was changed.';
    switch (err.kind) {
      case 'not_found':
        // Without an item named, the call changes the service itself (or adds to it): its service is gone.
        if (opts.notFound === undefined) throw err;
        throw errors.notFound(opts.notFound);
      case 'bad_request':
        throw errors.renderRejected(`${opts.read ? `Render refused to show ${what}.` : `Render did not accept ${what}.`}${said}${unchanged}`, details);
      case 'conflict':
        throw errors.conflict('render_conflict', `Render refused ${what} because it conflicts with the current state.${said}${unchanged}`, details);
      case 'payment_required':
        throw errors.renderPaymentRequired(`Render needs a payment method on the account for ${what}. Add one in the Render Dashboard (Billing)${opts.read ? '.' : '; nothing was changed.'}`, details);
      case 'forbidden':
        throw errors.renderForbidden(`Your Render API key is not allowed to ${opts.read ? 'read' : 'change'} ${what}.${unchanged}`, details);
      default:
        throw err;
    }
  }
}
