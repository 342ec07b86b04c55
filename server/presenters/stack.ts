import { z } from 'zod';
import { view } from '../openapi/describe.js';
import type { DetectedStack } from '../stacks/types.js';
import type { BlueprintValidation } from '../render/types.js';

/** What the deploy form shows as "Detected stack" (the detection the deploy pipeline runs). */
export const DetectView = view('DetectedStack', z.object({
  stack: z.string(), serviceType: z.string(), schedule: z.string().nullable(), runtime: z.string(), buildCommand: z.string(), startCommand: z.string().nullable(),
  /** A static site's folder of built files, which Render serves (null for other types). */
  publishPath: z.string().nullable(),
  reason: z.string(), hasBlueprint: z.boolean(),
}));
export type DetectView = z.infer<typeof DetectView>;

export const BlueprintCheckView = view('BlueprintCheck', z.object({
  branch: z.string(), ownerId: z.string(), valid: z.boolean(),
  errors: z.array(z.object({ path: z.string().nullable(), error: z.string(), line: z.number().nullable(), column: z.number().nullable() })),
  /** Render's plan: what applying the Blueprint would create (Render's own shapes). */
  plan: z.object({
    services: z.array(z.unknown()), databases: z.array(z.unknown()), keyValue: z.array(z.unknown()), envGroups: z.array(z.unknown()), totalActions: z.number(),
  }).nullable(),
  /** Render's Deploy to Render link, where the user applies a valid Blueprint. */
  deployUrl: z.string().nullable(),
}));
export type BlueprintCheckView = z.infer<typeof BlueprintCheckView>;

/** A detection, field by field (the blueprint itself stays on the server: only whether there is one). */
export function presentDetectedStack(found: DetectedStack): DetectView {
  return {
    stack: found.stack,
    serviceType: found.serviceType,
    schedule: found.schedule ?? null,
    runtime: found.runtime,
    buildCommand: found.buildCommand,
    startCommand: found.startCommand,
    publishPath: found.publishPath ?? null,
    reason: found.reason,
    hasBlueprint: found.blueprint !== undefined,
  };
}

/** Render's judgement of a repository's render.yaml, with Render's Deploy to Render link when it is valid. */
export function presentBlueprintCheck(repo: { owner: string; name: string; branch: string }, ownerId: string, result: BlueprintValidation): BlueprintCheckView {
  const plan = result.valid && result.plan ? result.plan : null;
  return {
    branch: repo.branch,
    ownerId,
    valid: Boolean(result.valid),
    errors: (result.errors ?? []).slice(0, 50).map((e) => ({ path: e.path ?? null, error: e.error ?? '', line: e.line ?? null, column: e.column ?? null })),
    plan: plan && {
      services: plan.services ?? [], databases: plan.databases ?? [], keyValue: plan.keyValue ?? [],
      envGroups: plan.envGroups ?? [], totalActions: plan.totalActions ?? 0,
    },
    deployUrl: plan ? `https://render.com/deploy?repo=${encodeURIComponent(`https://github.com/${repo.owner}/${repo.name}/tree/${repo.branch.split('/').map(encodeURIComponent).join('/')}`)}` : null,
  };
}
