import { createHash } from 'node:crypto';

/**
 * Every telemetry key, under `<prefix>:tel:`. Ids are GitHub user ids and time indexes only: no
 * path, query string, login or secret is ever part of a key (logins are a value of tel:u:<id>).
 */
export function telemetryKeys(prefix: string) {
  const p = `${prefix}:tel`;
  return {
    /** Hash: minute-of-hour signals of one user for one hour (`<mm>.<signal>` → count). */
    minutes: (userId: number, hourIndex: number) => `${p}:m:${userId}:${hourIndex}`,
    /** Hash: per-route counts of one user for one hour (`<route id>.<s2|s4|…|l0…l5>` → count). */
    hour: (userId: number, hourIndex: number) => `${p}:h:${userId}:${hourIndex}`,
    /** HyperLogLog: distinct repositories/services one user touched in one minute (stores no element). */
    targets: (userId: number, minuteIndex: number) => `${p}:t:${userId}:${minuteIndex}`,
    /** Hash: the user's login (for the admin CLI and alerts). */
    user: (userId: number) => `${p}:u:${userId}`,
    /** String: user id of a login (lower case), for `npm run admin -- unblock <login>`. */
    login: (login: string) => `${p}:login:${login.toLowerCase()}`,
    /** String: when GitHub said that login is that user's (the sign-in of the session that wrote `login`), ms. */
    loginAt: (login: string) => `${p}:login-at:${login.toLowerCase()}`,
    /** String (JSON): the detector's baseline of one user. */
    baseline: (userId: number) => `${p}:b:${userId}`,
    /** Zset: user id → last minute index with traffic. */
    active: `${p}:active`,
    /** Hash: route id → "METHOD /template". */
    routes: `${p}:routes`,
    /** Hash: user id → guard entry JSON (throttled or blocked, until when). */
    guard: `${p}:guard`,
    /** Counter bumped on every guard change; web processes poll it. */
    guardVersion: `${p}:guard:ver`,
    /** String with TTL: after an operator's unblock the detector only learns for a while. */
    grace: (userId: number) => `${p}:grace:${userId}`,
    /** The last minute the detector judged, and its run lock. */
    detectorLast: `${p}:detector:last`,
    detectorLock: `${p}:detector:lock`,
  };
}
export type TelemetryKeys = ReturnType<typeof telemetryKeys>;

/** A short stable id of a route template (hash fields stay small, so Redis keeps them compact). */
export function routeId(method: string, template: string): string {
  return createHash('sha1').update(`${method} ${template}`).digest('base64url').slice(0, 6);
}

export const minuteIndex = (ms: number) => Math.floor(ms / 60_000);
export const hourIndex = (ms: number) => Math.floor(ms / 3_600_000);
