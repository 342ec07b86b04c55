/** What Sentinel stores and shows. No field ever holds a key, token, webhook URL or env value. */
export type Severity = 'high' | 'medium' | 'low';
type FindingKind = 'audit' | 'app_log' | 'service_event';

export interface Finding {
  /** Deterministic (from what Render gave us), so re-running a round after a crash finds the same finding. */
  id: string;
  kind: FindingKind;
  /** A short machine name, e.g. 'view_connection_info', 'app_log_exception', 'server_failed'. */
  rule: string;
  severity: Severity;
  title: string;
  ownerId: string | null;
  serviceId: string | null;
  /** Grouped findings (app-log lines) count their occurrences; everything else is 1. */
  count: number;
  firstAt: string;
  lastAt: string;
  /** App logs: first and last line of the group, redacted and shortened. */
  firstLine?: string;
  lastLine?: string;
  /** Audit entries: who did it (type, and the email Render reports for a user). */
  actor?: { type: string; email?: string };
  /** Whitelisted context (e.g. the env var's name, the Render event id), never values. */
  context?: Record<string, string>;
}

/** Per-user settings. The Slack URL is sealed (AES-GCM) and only opened in the worker to send. */
export interface SentinelSettings {
  enabled: boolean;
  /** The session whose key the watch uses (its hashed ref); the watch ends with that session. */
  sessionRef: string;
  intervalMs: number;
  slackSealed: string | null;
  /** Last 6 characters of the webhook path, for display. */
  slackHint: string | null;
  /** Also post deploy results (live / failed) to the webhook (issue 15). */
  slackDeployResults?: boolean;
  enabledAt: number;
}

/** How the last rounds went, for the Security page. */
export interface SentinelStatus {
  lastRunAt: string | null;
  /** Workspaces whose plan has no audit-log API (Render answered 403). */
  auditUnavailable: string[];
  /** Short machine reason when the last round could not finish (budget, render_unavailable). */
  lastProblem: string | null;
  /** Stretches the watch gave up reading in the last day (none: absent), newest last; the Security page names them. */
  skipped?: SkippedStretch[];
  /**
   * How far Render's clock was ahead of ours (ms) by the last round's latest answer, when it was (else
   * absent): the next round's first window is asked before Render answers it, and ends by ours plus this.
   */
  renderAheadMs?: number;
  /**
   * The `enabledAt` of the watch whose rounds wrote it (workers/tasks/sentinelTask.ts): the status outlives a
   * watch turned off, and one of a watch before the current one is not shown as this one's (present.ts).
   * Absent in a status written before it was kept.
   */
  watchEnabledAt?: number;
}

/**
 * What a round could not read and will not: app logs further behind than a round reads (more lines came than
 * its pages hold, or the watch was away), events of a window older than a day. Names and times only.
 */
export interface SkippedStretch {
  what: 'app_logs' | 'events';
  ownerId: string;
  /** The services' names (a group of up to 20 for app logs). */
  services: string[];
  /** Render timestamps: the stretch not read. */
  from: string;
  to: string;
  /** When it was last given up (a stretch of the same services given up again is joined to it). */
  at: string;
}
