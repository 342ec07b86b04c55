import type { Service } from '../render/types.js';

export interface PresentedService {
  id: string;
  name: string;
  type: string;
  ownerId: string;
  repo: string | null;
  branch: string | null;
  suspended: boolean;
  dashboardUrl: string | null;
  url: string | null;
  region: string | null;
  plan: string | null;
  runtime: string | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * A whitelist of a Render service: anything Render adds later (or details such as env-specific
 * commands, disks, IP allow lists) never reaches the browser or the cache by accident.
 */
export function presentService(s: Service): PresentedService {
  const details = (s.serviceDetails ?? {}) as Record<string, unknown>;
  const text = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
  return {
    id: s.id,
    name: s.name,
    type: s.type,
    ownerId: s.ownerId,
    repo: text(s.repo),
    branch: text(s.branch),
    suspended: s.suspended === 'suspended',
    dashboardUrl: text(s.dashboardUrl),
    url: text(details.url),
    region: text(details.region),
    plan: text(details.plan),
    runtime: text(details.runtime) ?? text(details.env),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}
