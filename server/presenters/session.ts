import { z } from 'zod';
import type { AppSession, RenderOwner, SessionUser } from '../sessions/types.js';
import { view } from '../openapi/describe.js';

export const OwnerView = view('RenderWorkspace', z.object({ id: z.string(), name: z.string(), type: z.enum(['user', 'team']) }));
type OwnerView = z.infer<typeof OwnerView>;

export const RenderStatusView = view('RenderKeyStatus', z.object({
  configured: z.boolean(),
  /** Render accepted the key when it was connected, and has not refused it since (false once `rejectedAt` is set). */
  verified: z.boolean(),
  verifiedAt: z.string().nullable(),
  /**
   * Present only once Render refused this key (401) on a call made with it since it was connected: revoked or
   * deleted on Render's side. When that was first seen. The key stays connected (`configured`; clear it, or
   * connect a new one, which drops this); every Render call with it fails with render_key_invalid, and deploys
   * started with it end credentials_revoked.
   */
  rejectedAt: z.string().optional().describe('Set once Render refused this key (401, revoked on Render\'s side) on a call made with it: when that was first seen. Connect a new key (or clear this one).'),
  /** `rnd_...` and the key's last 4 characters, never the key. ASCII dots, not "…": see presentRenderStatus. */
  keyHint: z.string().nullable(),
  owners: z.array(OwnerView),
}), 'Whether a Render API key is connected to this session, whether Render has refused it since, and the workspaces it can use (never the key).');
export type RenderStatusView = z.infer<typeof RenderStatusView>;

export const SessionView = view('Session', z.object({
  user: z.object({ id: z.number().int(), login: z.string(), name: z.string().nullable(), avatarUrl: z.string() }),
  render: RenderStatusView,
  /** Browser sessions only: send it as X-CSRF-Token on state-changing requests. */
  csrfToken: z.string().optional(),
}), 'The signed-in user, their Render key status and (browser sessions) the CSRF token for state-changing requests.');
export type SessionView = z.infer<typeof SessionView>;

/** Whitelists what leaves the server about a session: never a sealed value, fingerprint or grant state. */
export function presentRenderStatus(sess: AppSession): RenderStatusView {
  const r = sess.render;
  const rejectedAt = r?.rejectedAt;
  return {
    configured: Boolean(r),
    verified: Boolean(r?.verifiedAt) && rejectedAt === undefined,
    verifiedAt: r ? new Date(r.verifiedAt).toISOString() : null,
    ...(rejectedAt === undefined ? {} : { rejectedAt: new Date(rejectedAt).toISOString() }),
    // Three ASCII dots, not "…": one character past Latin-1 makes V8 hold the whole JSON body, and Node's
    // header block joined to it, as a two-byte string, which Node then encodes to UTF-8 on its slow path:
    // ~2 µs of a ~31 µs authenticated GET (bench/README.md, api).
    keyHint: r ? `rnd_...${r.keyHint}` : null,
    owners: (r?.owners ?? []).map(presentOwner),
  };
}

export function presentOwner(o: RenderOwner): OwnerView {
  return { id: o.id, name: o.name, type: o.type };
}

export function presentSession(sess: AppSession, user: SessionUser): SessionView {
  const status = presentRenderStatus(sess);
  return {
    user: { id: user.id, login: user.login, name: user.name, avatarUrl: user.avatarUrl },
    render: status,
    csrfToken: sess.csrfToken,
  };
}
