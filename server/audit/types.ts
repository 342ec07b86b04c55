/** What the audit trail records. Every field is whitelisted: ids, logins, statuses, ip, hashes, routes. */
export type AuditAction =
  | 'sign_in' | 'sign_in_failed' | 'sign_out'
  | 'render_key_set' | 'render_key_cleared' | 'render_key_invalid'
  | 'deploy_requested' | 'deploy_finished'
  | 'lifecycle'
  | 'security'
  /** Sentinel found something in the user's Render workspace (detail: rule, severity, service). */
  | 'sentinel_finding'
  /** An MCP tool call (detail: tool, and the error code as reason when it failed). */
  | 'mcp_tool'
  /** Sentinel turned on or off, or its settings changed (detail: changes, never the webhook URL). */
  | 'sentinel_settings';

export type AuditOutcome = 'success' | 'failure' | 'denied' | 'detected';

/**
 * The only detail fields an entry can carry. There is deliberately no free-text field: nothing a
 * caller passes (a key, a token, an env value, a cookie) can ride along. sanitizeDetail enforces
 * the value shapes at runtime too.
 */
export interface AuditDetail {
  login?: string;
  ip?: string;
  /** Short sha256 of the user agent (never the user agent itself). */
  uaHash?: string;
  /** The route template (or a sanitised path) and method of the request that caused the entry. */
  route?: string;
  method?: string;
  deploymentId?: string;
  serviceId?: string;
  /** A deployment status (deploy_finished). */
  status?: string;
  /** redeploy | rollback | suspend | resume | delete | cancel (lifecycle). */
  lifecycleAction?: string;
  /** A machine-readable reason code (e.g. access_denied, unauthorized). */
  reason?: string;
  /** The security event type, on security entries (and on actions that are one, e.g. render_key_invalid). */
  securityEvent?: string;
  /** deployment | service (cross-tenant probes). */
  resource?: string;
  durationMs?: number;
  /** Lock-outs: seconds until the lock ends. */
  retryAfterSec?: number;
  /** Threshold events: how many occurrences triggered it. */
  count?: number;
  /** mcp_tool: the tool's name (list_services, deploy_repo, …). */
  tool?: string;
  /** sentinel_settings: what one save changed (SentinelChange codes, routes/sentinel.ts). */
  changes?: string[];
}

export interface AuditInput {
  /** The GitHub user id the entry belongs to; null for events without a signed-in user (failed sign-ins). */
  userId: number | null;
  action: AuditAction;
  outcome: AuditOutcome;
  detail?: AuditDetail;
  /**
   * Record in the global chain only, not in the user's own (visible) trail: for entries that would
   * tell the user more than the response did (a probe on someone else's id must stay a plain 404).
   */
  globalOnly?: boolean;
  /**
   * Record in the user's own trail only, not the global chain: for entries as frequent as a user's reads
   * (an MCP read tool's call). The global chain is trimmed by count, and such entries from one user would
   * push everyone else's, and the security events, out of it.
   */
  userOnly?: boolean;
}

/** A stored entry. hash = sha256(canonical JSON of every other field, prevHash included). */
export interface AuditEntry {
  /** Which chain it belongs to: "global" or "user:<id>" (hashed, so an entry cannot be moved between chains). */
  chain: string;
  seq: number;
  at: string;
  userId: number | null;
  action: AuditAction;
  outcome: AuditOutcome;
  detail: AuditDetail;
  prevHash: string;
  /**
   * Random, one per append (the same in the user's and the global entry of it; absent on entries written
   * before it existed). The append script tells its own entry, written by a run whose answer was lost, by
   * the entry's bytes: without it two processes appending the same event in the same millisecond on the
   * same head built identical entries, and the second was taken for written and dropped.
   */
  nonce?: string;
  hash: string;
}

export type ChainScope = 'global' | { userId: number };

/** unsigned: a chain head or checkpoint whose signature does not verify (forged, or written without SECRET_KEY). */
export type ChainProblem = 'edited' | 'missing' | 'reordered' | 'inserted' | 'broken_link' | 'unreadable' | 'truncated' | 'unsigned';

export type ChainVerdict =
  | { valid: true; length: number }
  | { valid: false; length: number; seq: number; problem: ChainProblem; message: string };
