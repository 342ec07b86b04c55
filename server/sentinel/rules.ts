import type { Severity } from './types.js';

/**
 * Which Render audit-log events are findings, and how bad. Event names are the spec's `auditLog.event`
 * enum (docs/render-api.md, "Audit logs"); anything not listed is normal activity and not reported.
 * The spec has no "API key created" event: SCIM token provisioning and OAuth grants are the closest.
 */
export const AUDIT_RULES: Readonly<Record<string, { rule: string; severity: Severity; title: string }>> = {
  ViewConnectionInfoEvent: { rule: 'view_connection_info', severity: 'high', title: 'Database connection info viewed (credentials exposed)' },
  StartShellEvent: { rule: 'start_shell', severity: 'high', title: 'Shell opened into a service' },
  DownloadDatabaseBackupEvent: { rule: 'download_database_backup', severity: 'high', title: 'Database backup downloaded' },
  ViewEnvVarValuesEvent: { rule: 'view_env_var_values', severity: 'medium', title: 'Environment variable values viewed' },
  ProvisionOrganizationSCIMToken: { rule: 'scim_token_created', severity: 'medium', title: 'Organization SCIM token created' },
  GrantOAuthAccessEvent: { rule: 'oauth_access_granted', severity: 'medium', title: 'OAuth access granted to an application' },
  AddOrgMemberEvent: { rule: 'member_added', severity: 'medium', title: 'Member added to the organization' },
  JoinTeamEvent: { rule: 'member_added', severity: 'medium', title: 'Member joined the workspace' },
  AcceptTeamInviteEvent: { rule: 'member_added', severity: 'low', title: 'Workspace invite accepted' },
  AcceptOrgInviteEvent: { rule: 'member_added', severity: 'low', title: 'Organization invite accepted' },
  InviteToTeamEvent: { rule: 'member_invited', severity: 'low', title: 'Someone was invited to the workspace' },
  InviteToOrgEvent: { rule: 'member_invited', severity: 'low', title: 'Someone was invited to the organization' },
  ChangeTeamMemberRoleEvent: { rule: 'role_changed', severity: 'medium', title: 'Workspace member role changed' },
  ChangeOrgRoleEvent: { rule: 'role_changed', severity: 'medium', title: 'Organization member role changed' },
  UpdateIPAllowListEvent: { rule: 'ip_allow_list_changed', severity: 'medium', title: 'IP allow list changed' },
  ChangeTeam2FAEnforcementEvent: { rule: 'two_factor_changed', severity: 'medium', title: 'Two-factor enforcement changed for the workspace' },
  ChangeOrg2FAEnforcementEvent: { rule: 'two_factor_changed', severity: 'medium', title: 'Two-factor enforcement changed for the organization' },
  ChangeTeamAllowedLoginMethodsEvent: { rule: 'login_methods_changed', severity: 'medium', title: 'Allowed login methods changed' },
  ChangeOrgAllowedLoginMethodsEvent: { rule: 'login_methods_changed', severity: 'medium', title: 'Allowed login methods changed for the organization' },
  CreateSSOConnectionEvent: { rule: 'sso_changed', severity: 'medium', title: 'SSO connection created' },
  UpdateSSOConnectionEvent: { rule: 'sso_changed', severity: 'medium', title: 'SSO connection changed' },
  DeleteSSOConnectionEvent: { rule: 'sso_changed', severity: 'medium', title: 'SSO connection deleted' },
  ChangeWorkspacePrivacyEvent: { rule: 'workspace_privacy_changed', severity: 'low', title: 'Workspace privacy changed' },
  RemoveOrgMemberEvent: { rule: 'member_removed', severity: 'low', title: 'Member removed from the organization' },
  RemoveUserFromTeamEvent: { rule: 'member_removed', severity: 'low', title: 'Member removed from the workspace' },
};

/** A failed Render sign-in is worth a low finding too (status 'error' on LoginEvent). */
export const FAILED_LOGIN = { rule: 'render_login_failed', severity: 'low' as Severity, title: 'Failed sign-in to Render' };

/** Audit metadata keys worth showing: ids and names, never values. */
export const AUDIT_CONTEXT_KEYS = ['service', 'field', 'key', 'database', 'postgres', 'redis', 'role', 'member', 'environment'] as const;

/**
 * Service events that mean a service is failing without anyone deploying (docs/render-api.md,
 * "Service events"). `server_unhealthy` is not in the vendored spec's enum but is accepted if Render
 * sends it; an OOM shows up as server_failed with `reason.oomKilled`.
 */
export function serviceEventRule(type: string, details: unknown): { rule: string; severity: Severity; title: string } | null {
  switch (type) {
    case 'server_failed':
      return oomKilled(details)
        ? { rule: 'server_oom', severity: 'high', title: 'Instance killed: out of memory' }
        : { rule: 'server_failed', severity: 'high', title: 'Instance failed' };
    case 'server_unhealthy':
      return { rule: 'server_unhealthy', severity: 'medium', title: 'Instance unhealthy' };
    case 'server_hardware_failure':
      return { rule: 'server_hardware_failure', severity: 'medium', title: 'Hardware failure under an instance' };
    case 'image_pull_failed':
      return { rule: 'image_pull_failed', severity: 'medium', title: 'Image pull failed' };
    case 'pipeline_minutes_exhausted':
      return { rule: 'pipeline_minutes_exhausted', severity: 'medium', title: 'Build pipeline minutes exhausted: deploys stop' };
    case 'build_ended':
      return oomKilled(details) ? { rule: 'build_oom', severity: 'medium', title: 'Build killed: out of memory' } : null;
    default:
      return null;
  }
}

function oomKilled(details: unknown): boolean {
  if (typeof details !== 'object' || details === null) return false;
  const reason = (details as { reason?: unknown }).reason;
  if (typeof reason !== 'object' || reason === null) return false;
  const r = reason as { oomKilled?: unknown; failure?: { oomKilled?: unknown } };
  return Boolean(r.oomKilled) || Boolean(r.failure && typeof r.failure === 'object' && r.failure.oomKilled);
}
