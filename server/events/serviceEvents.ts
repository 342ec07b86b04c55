/**
 * A change to one of the user's services (suspend, resume, delete, a setting, an env var…), published on
 * the user's own live channel after the change succeeded, so their other tabs and devices re-read the
 * service through the API (web/assets/live.js). Ids and the action only: the pages read everything else
 * through the presenters, and no value (an env var's, a file's) ever travels on the channel.
 */

const SERVICE_ID = /^(srv|crn)-[0-9a-z]{20}$/;
const ACTION = /^[a-z_]{1,40}$/;

/**
 * The message for the user's channel. `serviceId`, not `id`: a web process that does not know this
 * kind (during a rolling upgrade) would otherwise take it for a deployment update.
 */
export function serviceMessage(serviceId: string, action: string): string {
  return JSON.stringify({ type: 'service', serviceId, action });
}

/** The data of `event: service` for a published message, or null when it is not one. */
export function serviceEvent(message: string): string | null {
  // Cheap test first: every update on the channel goes through here.
  if (!message.startsWith('{"type":"service"')) return null;
  try {
    const m = JSON.parse(message) as { serviceId?: unknown; action?: unknown };
    if (typeof m.serviceId !== 'string' || !SERVICE_ID.test(m.serviceId) || typeof m.action !== 'string' || !ACTION.test(m.action)) return null;
    return JSON.stringify({ type: 'service', id: m.serviceId, action: m.action });
  } catch {
    return null;
  }
}
