import { randomBytes } from 'node:crypto';

/**
 * Handing over from one event stream to the next (web/assets/live.js). A page that reopens its stream
 * (to follow a deployment's logs) must not close the old one while it still carries updates published
 * before the new one subscribed. So each stream gets a marker: sent to it first (`event: stream`), then
 * published on the user's channel once the stream is subscribed and forwarding. Every stream of the user
 * forwards it (`event: subscribed`); Redis delivers a channel's messages to each subscriber in the order
 * they were published, so when the old stream delivers the new one's marker, it has delivered everything
 * published before the new one subscribed, and the page can let it go.
 */

const MARKER = /^[A-Za-z0-9_-]{16}$/;

/** A new stream's marker (random: it only has to differ from the other streams' markers). */
export function newStreamMarker(): string {
  return randomBytes(12).toString('base64url');
}

/** The message published on the user's channel once the stream with `marker` is subscribed. */
export function subscribedMessage(marker: string): string {
  return JSON.stringify({ type: 'subscribed', marker });
}

/** The data of `event: subscribed` for a published message, or null when it is not a marker. */
export function subscribedEvent(message: string): string | null {
  // Cheap test first: every update on the channel goes through here.
  if (!message.startsWith('{"type":"subscribed"')) return null;
  try {
    const m = JSON.parse(message) as { marker?: unknown };
    return typeof m.marker === 'string' && MARKER.test(m.marker) ? subscribedMessage(m.marker) : null;
  } catch {
    return null;
  }
}
