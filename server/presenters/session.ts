import type { AppSession, RenderOwner } from '../sessions/types.js';

/** Whitelists what leaves the server about a session: never a sealed value, fingerprint or grant state. */
export function presentRenderStatus(sess: AppSession) {
  const r = sess.render;
  return {
    configured: Boolean(r),
    verified: Boolean(r?.verifiedAt),
    verifiedAt: r ? new Date(r.verifiedAt).toISOString() : null,
    keyHint: r ? `rnd_…${r.keyHint}` : null,
    owners: (r?.owners ?? []).map(presentOwner),
  };
}

export function presentOwner(o: RenderOwner) {
  return { id: o.id, name: o.name, type: o.type };
}

export function presentSession(sess: AppSession & { user: NonNullable<AppSession['user']> }) {
  const status = presentRenderStatus(sess);
  return {
    user: { id: sess.user.id, login: sess.user.login, name: sess.user.name, avatarUrl: sess.user.avatarUrl },
    render: { configured: status.configured, verified: status.verified, keyHint: status.keyHint, owners: status.owners },
    csrfToken: sess.csrfToken,
  };
}
