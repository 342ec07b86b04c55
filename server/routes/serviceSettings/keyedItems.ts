import type Router from '@koa/router';
import { z } from 'zod';
import { errors } from '../../errors.js';
import { pathParam, takesNoBody, validate } from '../../middleware/validate.js';
import { documented, type RouteDoc } from '../../openapi/describe.js';
import type { RenderClient } from '../../render/client.js';
import { isObject } from '../../render/calls.js';
import type { CallerRender } from '../../render/forRequest.js';
import { plainRender, type SettingsAction, type settingsScope } from './scope.js';
import { RENDER_REFUSALS } from '../../middleware/errorHandler.js';

/** These routes take no query: an unexpected parameter is refused before Render is asked (and the read audited). */
export const NoQuery = z.object({}).strict();

/**
 * A kind of named item a service holds, handled one at a time through Render's per-item endpoints
 * (env vars, secret files): a list of names only, a value only on a reveal, set and remove one item,
 * each change applied at the next deploy. Everything that differs between kinds is here.
 */
interface KeyedItemKind<Body extends z.ZodType> {
  /** The collection's path, e.g. '/api/render/services/:id/env-vars'; one item is `${path}/:${param}`. */
  path: string;
  /** The path parameter naming an item, also its field in the answers ('key', 'name'). */
  param: string;
  /** What a well-formed name is, and the field error for one that is not (before any Render call). */
  rule: RegExp;
  ruleText: string;
  /** How Render's refusals name an item ('the variable') and how a missing one is named ('Secret file'). */
  noun: string;
  notFound: string;
  /** The body of a set, and its field that Render's refusal of a set concerns ('value', 'content'). */
  body: Body;
  bodyField: string;
  actions: { reveal: SettingsAction; set: SettingsAction; remove: SettingsAction };
  docs: Record<'list' | 'reveal' | 'set' | 'remove', Pick<RouteDoc, 'summary' | 'responses'>>;
  /** The list answer (names only), one item's answer (with its value), and the Render calls. */
  list(client: RenderClient, serviceId: string): Promise<unknown>;
  reveal(client: RenderClient, serviceId: string, name: string): Promise<unknown>;
  /** The item's value now (null: there is none), read before a change replaces or removes it. */
  current(client: RenderClient, serviceId: string, name: string): Promise<string | null>;
  put(client: RenderClient, serviceId: string, name: string, body: z.output<Body>): Promise<unknown>;
  remove(client: RenderClient, serviceId: string, name: string): Promise<void>;
}

/** The longest name of an item Render lists that can be shown or removed here (LISTED_NAME's bound). */
const LISTED_NAME_MAX = 256;
/** A name Render may list: no control character (C0, DEL, C1), no path separator, not a dot segment (a URL cannot carry it). */
// eslint-disable-next-line no-control-regex
const LISTED_NAME = /^(?!\.\.?$)[^\u0000-\u001f\u007f-\u009f/\\]{1,256}$/u;

/** The four routes of a keyed item kind, behind the settings scope's guards (server/routes/serviceSettings/scope.ts). */
export function keyedItemRoutes<Body extends z.ZodType>(router: Router, scope: ReturnType<typeof settingsScope>, kind: KeyedItemKind<Body>) {
  const item = `${kind.path}/:${kind.param}`;
  const tag = 'service-settings';
  const nameParam = () => pathParam(kind.param, kind.rule, () => errors.validation(kind.ruleText, { field: kind.param }));
  // Showing or deleting one takes any name Render may list (its spec sets no rule; one made on the Dashboard or
  // through Render's API, `spring.datasource.url`), so what the page lists it can also show and remove: the
  // rule for a new name (kind.rule) refused them, with a message about typing a name no one typed.
  const listedNameParam = () => pathParam(kind.param, LISTED_NAME, () => errors.validation(`The name is 1 to ${LISTED_NAME_MAX} characters, without control characters, / or \\, and not . or ..`, { field: kind.param }));
  const changes: Pick<RouteDoc, 'errors'> = { errors: [...RENDER_REFUSALS, 'item_change_in_progress'] };

  // The running deploy keeps the value a change replaces until the next deploy (and its logs, and
  // earlier deploys' logs, hold it): kept for redaction before Render is asked to change it, with no
  // other change of the item between the read and the change (`inItemTurn`, retiredSecrets.ts).
  // The turn may be waited for: its calls go out only while the session still holds the key (whileKeyHeld).
  const changeKept = async (caller: CallerRender, serviceId: string, name: string, next: unknown, change: (client: RenderClient) => Promise<unknown>) => {
    // Named by kind and name: the cap tells which value of an item a running deploy took (retiredSecrets.ts).
    const item = `${kind.path.split('/').pop()}/${name}`;
    await scope.whileKeyHeld(caller, (client) => scope.inItemTurn(serviceId, item, async () => {
      const now = await kind.current(client, serviceId, name);
      // Values of the item changed on the Dashboard since the last log read go first (seenSecrets.ts).
      const others = await scope.retireSeenOthers(client, serviceId, item, now);
      if (now !== null && now !== next) await scope.retire(client, serviceId, [{ name: item, value: now }]);
      try {
        const answer = await change(client);
        // Render took it: the values last seen by log reads get the new one (seenSecrets.ts; a generated
        // value is in Render's answer), so the next read does not find the replaced one gone and keep it twice.
        const value = typeof next === 'string' ? next : isObject(answer) && typeof answer.value === 'string' ? answer.value : null;
        await scope.seenChanged(serviceId, item, [now, ...others], value);
      } finally {
        // Every change asked of Render, answered or not (one that timed out may have been made): reads that
        // reuse the service's values (live tails, log pages after a newest one) read them again.
        await scope.secretsChanged(serviceId);
      }
    }));
  };

  router.get(kind.path, documented({ ...kind.docs.list, tag }), ...scope.read, validate({ query: NoQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    ctx.body = await kind.list(caller.client, service.id);
  });

  router.get(item, documented({ ...kind.docs.reveal, tag }), ...scope.read, listedNameParam(), validate({ query: NoQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const name = String(ctx.params[kind.param]);
    const answer = await plainRender(kind.noun, kind.param, () => kind.reveal(caller.client, service.id, name), { notFound: kind.notFound, read: true });
    await scope.audited(ctx, kind.actions.reveal); // a read: the cached service list stays valid
    ctx.body = answer;
  });

  router.put(item, documented({ ...kind.docs.set, tag, ...changes }), ...scope.write(), nameParam(), validate({ body: kind.body }, { messages: 'as-written' }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const name = String(ctx.params[kind.param]);
    await changeKept(caller, service.id, name, (ctx.input.body as Record<string, unknown>)[kind.bodyField],
      (client) => plainRender(`${kind.noun} ${name}`, kind.bodyField, () => kind.put(client, service.id, name, ctx.input.body)));
    await scope.changed(ctx, kind.actions.set);
    ctx.body = { [kind.param]: name, redeployToApply: true };
  });

  router.delete(item, documented({ ...kind.docs.remove, tag, errors: ['item_change_in_progress'] }), ...scope.write(), listedNameParam(), takesNoBody(), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const name = String(ctx.params[kind.param]);
    await changeKept(caller, service.id, name, undefined,
      (client) => plainRender(`removing ${name}`, kind.param, () => kind.remove(client, service.id, name), { notFound: kind.notFound }));
    await scope.changed(ctx, kind.actions.remove);
    ctx.body = { [kind.param]: name, deleted: true, redeployToApply: true };
  });
}
