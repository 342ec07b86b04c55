import { signIntegrity, type Keyring } from '../crypto/keyring.js';
import type { DeploymentRecord, DeploymentRequest } from './types.js';

/**
 * Integrity of deployment records and deploy jobs against a Redis writer who lacks SECRET_KEY.
 *
 * - Every stored record carries `mac`: a MAC over its id (from the key name, so a record copied to
 *   another id fails) and its whole stored JSON. Every writer (web and worker) goes through the
 *   store, which verifies the current record before changing it and signs what it writes, so the
 *   fields the worker sends to Render (request, stack, service and deploy ids, commit) are covered
 *   at every step, not only the ones set at creation.
 * - `requestMac` binds who asked for what (see bindingInput); the job carries the same value.
 */
export const recordMacInput = (id: string, json: string) => `deployment-record/v1\n${id}\n${json}`;

/**
 * What the request MAC covers, in a fixed order. A request-scoped key reference (issue 13: a key
 * sealed for one request instead of read from the session) joins the credential part of this list.
 */
function bindingInput(rec: Pick<DeploymentRecord, 'id' | 'userId' | 'kind' | 'sessionRef' | 'keyFingerprint' | 'request' | 'serviceId' | 'rollbackToDeployId' | 'createdAt'>): string {
  const r = rec.request;
  return JSON.stringify([
    'deployment-request/v1', rec.id, rec.userId, rec.kind, rec.createdAt,
    { sessionRef: rec.sessionRef, keyFingerprint: rec.keyFingerprint },
    [r.githubRepo, r.serviceName, r.branch, r.ownerId, r.region, r.plan, r.envVarKeys, r.buildCommand, r.startCommand],
    rec.serviceId, rec.rollbackToDeployId,
    // The service type and schedule chosen in the form (issue 15). Only present when set, so a request
    // signed before they existed (a plain web service from detection) keeps its MAC.
    ...(r.serviceType || r.schedule ? [{ serviceType: r.serviceType ?? null, schedule: r.schedule ?? null }] : []),
    // Added only when set, so requests signed before clear-cache redeploys existed still verify.
    ...(r.clearCache ? ['clear-cache'] : []),
    // The commit asked for, likewise only when set.
    ...(r.commitSha ? [{ commitSha: r.commitSha }] : []),
  ]);
}

export function signRequest(rec: Parameters<typeof bindingInput>[0], keyring: Keyring): string {
  return signIntegrity(bindingInput(rec), keyring);
}

/** A stored record whose MAC is missing or wrong: written by something other than this service. */
export class RecordTamperedError extends Error {
  readonly deploymentId: string;
  constructor(deploymentId: string) {
    super(`deployment record ${deploymentId} failed its integrity check`);
    this.deploymentId = deploymentId;
    this.name = 'RecordTamperedError';
  }
}

const TAMPERED_FAILURE = {
  code: 'record_tampered',
  message: 'This deployment\'s stored record was changed outside the orchestrator, so it was stopped and nothing was sent to Render. Deploy again if you meant to.',
} as const;

const text = (v: unknown, max = 200): string => (typeof v === 'string' ? v.slice(0, max) : '');

/**
 * What replaces a tampered record of a real user: a failed deployment built only from our own
 * values and a few display strings of the stored one (repo and service name, capped), with no
 * service, deploy, link or command that anything could act on.
 */
export function quarantinedRecord(id: string, userId: number, stored: unknown, nowIso: string): DeploymentRecord {
  const raw = (stored && typeof stored === 'object' ? stored : {}) as { request?: Partial<DeploymentRequest>; createdAt?: unknown };
  const createdAt = typeof raw.createdAt === 'string' && !Number.isNaN(Date.parse(raw.createdAt)) ? new Date(raw.createdAt).toISOString() : nowIso;
  const request: DeploymentRequest = {
    githubRepo: text(raw.request?.githubRepo), serviceName: text(raw.request?.serviceName), branch: null,
    ownerId: '', region: '', plan: '', envVarKeys: [], buildCommand: null, startCommand: null,
  };
  return {
    id, userId, kind: 'deploy', request, status: 'failed',
    timeline: [{ status: 'failed', at: nowIso, source: 'orchestrator', note: 'Integrity check failed' }],
    stack: null, commitSha: null, serviceId: null, deployId: null, deployRequestedAt: null, rollbackToDeployId: null,
    dashboardUrl: null, serviceUrl: null, failure: { ...TAMPERED_FAILURE },
    sessionRef: '', keyFingerprint: '', requestMac: '', watchChecks: 0,
    createdAt, updatedAt: nowIso, finishedAt: nowIso,
  };
}
