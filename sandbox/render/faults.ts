import { randomUUID } from 'node:crypto';
import type { FaultRule } from './types.js';

/** Fault rules matched per request: method, templated route and (optionally) API key and query parameters. */

interface ActiveRule extends FaultRule {
  id: string;
  remaining: number;
  /** Requests matched so far (for `every`). */
  seen: number;
}

interface FaultPlan {
  /** Sum of matching latency rules, in ms. */
  delayMs: number;
  /** The first matching non-latency rule, if any. */
  fault: FaultRule | null;
}

export interface FaultSet {
  add(rule: FaultRule): string;
  /** One rule, by the id add returned (others stay). */
  remove(id: string): void;
  clear(): void;
  /** Decides (and counts) the faults for one request. */
  plan(method: string, route: string, apiKey: string | null, query?: URLSearchParams): FaultPlan;
}

export function createFaultSet(random: () => number = Math.random): FaultSet {
  let rules: ActiveRule[] = [];
  const matches = (r: ActiveRule, method: string, route: string, apiKey: string | null, query: URLSearchParams) =>
    (!r.method || r.method.toUpperCase() === method)
    && (!r.route || r.route === '*' || r.route === route)
    && (!r.apiKey || r.apiKey === apiKey)
    && Object.entries(r.query ?? {}).every(([name, value]) => query.get(name) === value);
  const fire = (r: ActiveRule): boolean => {
    if (r.remaining <= 0) return false;
    if (r.every !== undefined ? ++r.seen % r.every !== 0 : random() >= (r.probability ?? 1)) return false;
    r.remaining -= 1;
    return true;
  };
  return {
    add(rule) {
      if (!['latency', 'status', 'reset', 'timeout', 'malformed', 'body', 'without', 'emptyPage', 'lost', 'date'].includes(rule.kind)) {
        throw new Error(`unknown fault kind: ${String(rule.kind)}`);
      }
      if (rule.kind === 'emptyPage' && rule.next !== undefined && rule.next !== 'asked' && rule.next !== 'moved') throw new Error("emptyPage: next, 'asked' or 'moved'");
      if (rule.kind === 'date' && !Number.isFinite(rule.ms)) throw new Error('date: ms, how far the Date is off the simulator\'s clock');
      if (rule.kind === 'without' && !(Array.isArray(rule.fields) && rule.fields.every((f) => typeof f === 'string'))) throw new Error('without: fields, the names to leave out');
      const id = `flt-${randomUUID()}`;
      if (rule.every !== undefined && !(Number.isInteger(rule.every) && rule.every >= 1)) throw new Error('every: a whole number of requests, at least 1');
      rules.push({ ...rule, id, remaining: rule.count ?? Number.POSITIVE_INFINITY, seen: 0 });
      return id;
    },
    remove(id) {
      rules = rules.filter((r) => r.id !== id);
    },
    clear() {
      rules = [];
    },
    plan(method, route, apiKey, query = new URLSearchParams()) {
      let delayMs = 0;
      let fault: FaultRule | null = null;
      for (const r of rules) {
        if (!matches(r, method, route, apiKey, query)) continue;
        if (r.kind === 'latency') {
          if (fire(r)) delayMs += r.ms ?? 0;
        } else if (!fault && fire(r)) {
          fault = r;
        }
      }
      rules = rules.filter((r) => r.remaining > 0);
      return { delayMs, fault };
    },
  };
}
