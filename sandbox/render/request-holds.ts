/**
 * Holds for tests that must act while a request is in flight (between a client's two calls): the next
 * request matching a hold waits, before it is handled, until the test releases it. Matched like
 * faults: method, templated route, key.
 */

export interface RequestHoldRule {
  method?: string;
  /** Templated route as in the spec paths, e.g. '/services/{serviceId}/deploys'. */
  route?: string;
  apiKey?: string;
}

export interface RequestHold {
  /** Resolves when a matching request is waiting. */
  arrived: Promise<void>;
  /** Let it (and, once released, any later match: the hold is spent) go on. */
  release(): void;
}

export interface RequestHolds {
  add(rule: RequestHoldRule): RequestHold;
  /** Where a request waits while a hold matches it (each hold takes one request). */
  wait(method: string, route: string, apiKey: string | null): Promise<void>;
  releaseAll(): void;
}

interface Pending { rule: RequestHoldRule; taken: boolean; arrive: () => void; released: Promise<void>; release: () => void }

export function createRequestHolds(): RequestHolds {
  const holds = new Set<Pending>();
  const matches = (r: RequestHoldRule, method: string, route: string, apiKey: string | null) =>
    (!r.method || r.method.toUpperCase() === method) && (!r.route || r.route === route) && (!r.apiKey || r.apiKey === apiKey);
  return {
    add(rule) {
      let arrive!: () => void;
      let release!: () => void;
      const arrived = new Promise<void>((resolve) => { arrive = resolve; });
      const released = new Promise<void>((resolve) => { release = resolve; });
      const pending: Pending = { rule, taken: false, arrive, released, release: () => { holds.delete(pending); release(); } };
      holds.add(pending);
      return { arrived, release: pending.release };
    },
    async wait(method, route, apiKey) {
      for (const h of holds) {
        if (h.taken || !matches(h.rule, method, route, apiKey)) continue;
        h.taken = true;
        h.arrive();
        await h.released;
        return;
      }
    },
    releaseAll() {
      for (const h of [...holds]) h.release();
    },
  };
}
