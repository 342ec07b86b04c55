import { z } from 'zod';
import { view } from '../../openapi/describe.js';
import { RENDER_PLANS } from '../../deployments/input.js';

// What the service settings routes answer (GET /api/openapi.json documents them under these names).

export const EnvVarNamesView = view('EnvVarNames', z.object({ envVars: z.array(z.object({ key: z.string() })) }));
export const EnvVarValueView = view('EnvVarValue', z.object({ key: z.string(), value: z.string() }), 'A revealed value (Render records the reveal in the workspace audit log).');
export const EnvVarSetView = view('EnvVarSet', z.object({ key: z.string(), redeployToApply: z.literal(true) }));
export const EnvVarDeletedView = view('EnvVarDeleted', z.object({ key: z.string(), deleted: z.literal(true), redeployToApply: z.literal(true) }));

export const SecretFileNamesView = view('SecretFileNames', z.object({ secretFiles: z.array(z.object({ name: z.string() })) }));
export const SecretFileView = view('SecretFile', z.object({ name: z.string(), content: z.string() }));
export const SecretFileSetView = view('SecretFileSet', z.object({ name: z.string(), redeployToApply: z.literal(true) }));
export const SecretFileDeletedView = view('SecretFileDeleted', z.object({ name: z.string(), deleted: z.literal(true), redeployToApply: z.literal(true) }));

export const CustomDomainView = view('CustomDomain', z.object({
  id: z.string(), name: z.string(), domainType: z.string(), verificationStatus: z.string(), redirectForName: z.string().nullable(), createdAt: z.string(),
  /** The records to create at the domain's DNS provider. */
  dns: z.array(z.object({ type: z.string(), name: z.string(), value: z.string(), note: z.string().nullable() })),
}));
export type CustomDomainView = z.infer<typeof CustomDomainView>;
export const CustomDomainListView = view('CustomDomainList', z.object({
  supported: z.boolean(), target: z.string().nullable(), apexIp: z.string().optional(), domains: z.array(CustomDomainView),
}));
export const CustomDomainsAddedView = view('CustomDomainsAdded', z.object({ domains: z.array(CustomDomainView) }));
export const CustomDomainVerifiedView = view('CustomDomainVerified', z.object({ domain: CustomDomainView.nullable() }),
  'The domain as Render has it after the check; null when Render accepted the check but reading the domain back failed (list the domains for its status).');

export const DeployHistoryEntryView = view('DeployHistoryEntry', z.object({
  id: z.string(), status: z.string().nullable(), trigger: z.string().nullable(), commitId: z.string().nullable(), commitMessage: z.string().nullable(),
  createdAt: z.string().nullable(), finishedAt: z.string().nullable(), current: z.boolean(), rollbackable: z.boolean(),
}));
export type DeployHistoryEntryView = z.infer<typeof DeployHistoryEntryView>;
export const DeployHistoryView = view('DeployHistory', z.object({ deploys: z.array(DeployHistoryEntryView), nextCursor: z.string().nullable(), autoDeploy: z.boolean() }));

export const ServiceSettingsView = view('ServiceSettings', z.object({
  id: z.string(), name: z.string(), type: z.string(), repo: z.string().nullable(), branch: z.string().nullable(),
  imageBacked: z.boolean(), suspended: z.boolean(), dashboardUrl: z.string().nullable(),
  url: z.string().nullable(), region: z.string().nullable(), runtime: z.string().nullable(),
  autoDeploy: z.boolean(),
  previews: z.string().nullable(),
  plan: z.string().nullable(),
  healthCheckPath: z.string().nullable(),
  numInstances: z.number().int().nullable(),
  /** A cron job's schedule (five cron fields, UTC) as Render has it; null for every other type of service. */
  schedule: z.string().nullable(),
  autoscaling: z.object({ min: z.number().nullable(), max: z.number().nullable() }).nullable(),
  plans: z.array(z.enum(RENDER_PLANS)).readonly(), maxInstances: z.number().int(),
  /** Null in a PATCH's answer: a save does not list the workspace's services again (GET the settings for them). */
  previewServices: z.array(z.object({ id: z.string(), name: z.string(), url: z.string().nullable(), dashboardUrl: z.string().nullable() })).nullable(),
  /** false: the look for previews stopped at its cap (a workspace with very many services); more may exist. null: not read. */
  previewServicesComplete: z.boolean().nullable(),
}));
export type ServiceSettingsView = z.infer<typeof ServiceSettingsView>;
export const ServiceSettingsEnvelope = view('ServiceSettingsEnvelope', z.object({ settings: ServiceSettingsView }));
