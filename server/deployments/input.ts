import { z } from 'zod';
import { SERVICE_TYPES, SERVICE_TYPE_PRESETS } from '../stacks/serviceTypes.js';
import { cronScheduleProblem, CRON_SCHEDULE_MAX_CHARS } from './cron.js';
import { firstControl, MAX_COMMAND_CHARS } from '../stacks/lines.js';
import { errors } from '../errors.js';
import { echoed } from '../text.js';
import { queryWholeNumber } from '../middleware/queryNumber.js';

/** Render's enums for what the deploy form offers (checked against the spec in test/deployments/input.test.ts). */
export const RENDER_REGIONS = ['frankfurt', 'oregon', 'ohio', 'singapore', 'virginia'] as const;
export const RENDER_PLANS = ['free', 'starter', 'starter_plus', 'standard', 'standard_plus', 'pro', 'pro_plus', 'pro_max', 'pro_ultra'] as const;

/** A GitHub repository as `owner/name`. */
export const GITHUB_REPO = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;
/**
 * Names typed in any case, lowercased: ASCII capitals only. String.prototype.toLowerCase() also turns
 * U+212A KELVIN SIGN (a K lookalike) into ASCII "k", so a name with it passed the ASCII rule checked
 * after lowercasing as another name than the one sent; left as it is, the rule refuses it.
 */
export const asciiLowercase = (v: string) => v.replace(/[A-Z]+/g, (caps) => caps.toLowerCase());
// The service name becomes the onrender.com subdomain: a DNS label.
export const SERVICE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/**
 * A branch name as `git check-ref-format --branch` accepts it, so every branch GitHub lists in the picker
 * (Dependabot's `dependabot/npm_and_yarn/@types/node-20.11.5`, `release+1.0`, `feature/#12`, non-ASCII
 * letters): no space, control character or any of ~ ^ : ? * [ \; no `..`, `@{`, `//`; no part starting
 * with `.`, none ending with `.lock`; not starting with `-` or `/`, not ending with `/` or `.`; not `@`.
 * Of what git also allows, this app refuses < > & | " ' ` (the branch goes into Slack messages and pages)
 * and non-ASCII other than letters, marks and digits (no bidi overrides or invisible characters).
 */
const BRANCH_CHARS = /^[A-Za-z0-9!#$%()+,\-./;=@\]_{}\p{L}\p{M}\p{N}]{1,255}$/u;
/**
 * Letters and marks that show as nothing (Unicode's default-ignorable code points): U+3164 HANGUL FILLER is
 * a letter, variation selectors and U+034F COMBINING GRAPHEME JOINER are marks. "main\u3164" passed the
 * rule above and was deployed as a branch every page and Slack message showed as "main".
 */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;
export function isBranchName(name: string): boolean {
  return BRANCH_CHARS.test(name) && !INVISIBLE.test(name) && name !== '@' && !/\.\.|@\{|\/\//.test(name) && !/^[-/]|[/.]$/.test(name)
    && name.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock'));
}
export const BRANCH_MESSAGE = 'branch is not a git branch name this app deploys (git\'s rules; none of < > & | " \' `)';
/** Env var names, for the deploy form and the settings page alike. */
export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const OWNER_ID = /^(tea|usr|own)-[0-9a-z]{20}$/;
/** A full commit SHA: an abbreviation could name another commit once the repository grows. */
export const COMMIT_SHA = /^[0-9a-f]{40}$/;
/** The optional commit_sha of a deploy or redeploy body: a full SHA (any case), kept lowercase. */
export const commitShaField = () => z.string().trim().toLowerCase().regex(COMMIT_SHA, 'commit_sha must be a full commit SHA: 40 hexadecimal characters');

/**
 * Per value, in UTF-8 bytes: well below the 64 KB body limit, so one big value is a validation error
 * on that field (env_vars.N.value) rather than "request body too large" (the form checks the same).
 */
export const ENV_VALUE_MAX_BYTES = 16 * 1024;
// In unicode mode a surrogate pair is one code point, so this class matches only a lone half.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** Text sent on to Render as UTF-8 must not hold a lone UTF-16 surrogate: it would arrive as U+FFFD. */
export const hasLoneSurrogate = (text: string) => LONE_SURROGATE.test(text);
/**
 * An env var value, for the deploy form and the settings page alike. A process environment cannot hold
 * NUL (the value would end there), and a lone UTF-16 surrogate has no UTF-8 form (it would reach Render
 * as U+FFFD): either way the service would run with a value the person did not give.
 */
export const envValue = z.string()
  .refine((v) => Buffer.byteLength(v, 'utf8') <= ENV_VALUE_MAX_BYTES, 'This value is larger than 16 KB, the most a variable can hold here.')
  .refine((v) => !v.includes('\0'), 'This value holds a NUL character (\\0), which an environment variable cannot hold.')
  .refine((v) => !hasLoneSurrogate(v), 'This value holds half of a UTF-16 surrogate pair, which has no UTF-8 form; paste the text again.');
const envVar = z.object({ key: z.string().regex(ENV_KEY, 'env var names are letters, digits and _, not starting with a digit'), value: envValue }).strict();

/**
 * A build or start command, by the rule detected ones follow (server/stacks/detect.ts): a shell runs it
 * on Render, and a control character (but tab and line feed) or a bidirectional override makes what
 * runs differ from what the form shows; a lone surrogate would reach Render as U+FFFD.
 */
const command = z.string().trim().min(1)
  .max(MAX_COMMAND_CHARS, `A command is at most ${MAX_COMMAND_CHARS} characters; a longer one belongs in a script in the repository.`)
  .superRefine((v, ctx) => {
    const bad = firstControl(v, '\t\n');
    if (bad !== null) ctx.addIssue({ code: 'custom', message: `This command holds the invisible or control character ${bad}, which no command needs.` });
    else if (hasLoneSurrogate(v)) ctx.addIssue({ code: 'custom', message: 'This command holds half of a UTF-16 surrogate pair, which has no UTF-8 form; type it again.' });
  });

/**
 * A cron job's schedule as typed (the deploy form's and the service settings' field): trimmed, not empty,
 * at most CRON_SCHEDULE_MAX_CHARS. Whether it is a schedule Render can run is cronScheduleProblem's say:
 * the deploy form asks it once the type is known to be a cron job (serviceTypeRules), the settings through
 * `cronSchedule`.
 */
export const scheduleText = z.string('A schedule is text: five cron fields, e.g. "0 3 * * *".').trim()
  .min(1, 'Enter a cron schedule, e.g. "0 3 * * *".').max(CRON_SCHEDULE_MAX_CHARS, `A schedule is at most ${CRON_SCHEDULE_MAX_CHARS} characters.`);

/** A schedule Render can run: `scheduleText` with cronScheduleProblem's words for what is wrong with it. */
export const cronSchedule = scheduleText.superRefine((v, ctx) => {
  if (v === '' || v.length > CRON_SCHEDULE_MAX_CHARS) return; // said by scheduleText
  const problem = cronScheduleProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const DeployBody = z.object({
  github_repo: z.string().trim().regex(GITHUB_REPO, 'github_repo must look like owner/name'),
  project_name: z.string().trim().overwrite(asciiLowercase).regex(SERVICE_NAME, 'project_name: 1–63 lowercase letters, digits and hyphens, not starting or ending with a hyphen'),
  branch: z.string().trim().refine(isBranchName, BRANCH_MESSAGE).optional(),
  /** Deploy exactly this commit of the branch (CI: the pushed one), not whatever the branch points at when the worker starts. */
  commit_sha: commitShaField().optional(),
  owner_id: z.string().trim().regex(OWNER_ID, 'owner_id must be a Render workspace id (tea-…)').optional(),
  region: z.enum(RENDER_REGIONS).default('oregon'),
  plan: z.enum(RENDER_PLANS).default('starter'),
  env_vars: z.union([
    z.array(envVar).max(100),
    z.record(z.string().regex(ENV_KEY, 'env var names are letters, digits and _, not starting with a digit'), envValue),
  ]).optional(),
  build_command: command.optional(),
  start_command: command.optional(),
  /** Absent: the type detection finds (a Procfile worker: entry, a cron service in render.yaml, else web). */
  service_type: z.enum(SERVICE_TYPES, { message: `service_type must be one of ${SERVICE_TYPES.join(', ')}` }).optional(),
  schedule: scheduleText.optional(),
  _csrf: z.string().optional(),
}).strict().superRefine((b, ctx) => {
  const list = Array.isArray(b.env_vars) ? b.env_vars : Object.entries(b.env_vars ?? {}).map(([key, value]) => ({ key, value }));
  if (list.length > 100) ctx.addIssue({ code: 'custom', path: ['env_vars'], message: 'at most 100 env vars' });
  serviceTypeRules(b, ctx);
  const seen = new Set<string>();
  for (const v of list) {
    // Quoted as echoed() quotes caller input: this check runs even on a key that failed its rule (30 KB
    // came back whole), and a GitHub token fits the rule.
    if (seen.has(v.key)) ctx.addIssue({ code: 'custom', path: ['env_vars'], message: `env var ${echoed(v.key)} is given twice` });
    seen.add(v.key);
  }
});
export type DeployBody = z.infer<typeof DeployBody>;

/**
 * A cron job needs a valid schedule and nothing else takes one; a static site takes no start command; Render's free instance type is for web
 * services only; a cron job is deployed at its branch's head only (Render's Trigger deploy takes no
 * commitId for cron jobs): asked at a commit, it was queued for the worker to refuse. A cron job found by
 * detection (a render.yaml) is still refused by the worker (githubSteps.ts).
 */
function serviceTypeRules(b: { service_type?: (typeof SERVICE_TYPES)[number]; schedule?: string; plan: string; commit_sha?: string; start_command?: string }, ctx: z.RefinementCtx) {
  const preset = b.service_type ? SERVICE_TYPE_PRESETS[b.service_type] : null;
  // A static site runs no process: its start command was accepted and dropped without a word (the record
  // showed it, Render never got it).
  if (preset && !preset.needsStartCommand && b.start_command !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['start_command'], message: `A ${preset.label.toLowerCase()} has no start command: Render serves its built files. Leave the start command empty, or choose "Web service".` });
  }
  if (preset?.needsSchedule && b.commit_sha !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['commit_sha'], message: 'Render cannot deploy a chosen commit of a cron job, only its branch\'s head: leave the commit empty.' });
  }
  if (preset?.needsSchedule && b.schedule === undefined) {
    ctx.addIssue({ code: 'custom', path: ['schedule'], message: 'A cron job needs a schedule (five fields, UTC), e.g. "0 3 * * *" for 03:00 daily.' });
  }
  if (b.schedule !== undefined) {
    if (!preset?.needsSchedule) ctx.addIssue({ code: 'custom', path: ['schedule'], message: 'Only cron jobs take a schedule: choose "Cron job" as the service type, or leave the schedule empty.' });
    else {
      const problem = cronScheduleProblem(b.schedule);
      if (problem) ctx.addIssue({ code: 'custom', path: ['schedule'], message: problem });
    }
  }
  if (preset && preset.hasPlan && !preset.freePlan && b.plan === 'free') {
    ctx.addIssue({ code: 'custom', path: ['plan'], message: `Render has no free instance type for a ${preset.label.toLowerCase()}: choose Starter or above.` });
  }
}

export function envVarList(body: DeployBody): Array<{ key: string; value: string }> {
  return Array.isArray(body.env_vars) ? body.env_vars : Object.entries(body.env_vars ?? {}).map(([key, value]) => ({ key, value }));
}

export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,255}$/;
export const IDEMPOTENCY_KEY_RULE = '1–255 characters of letters, digits and ._:-';
/** The OpenAPI description of the header and its errors, on every route that starts a deployment. */
export const IDEMPOTENCY_HEADERS = { 'Idempotency-Key': 'Optional, 1–255 of letters, digits and ._:-; a retry with the same key and request answers with the same deployment (Idempotent-Replayed: true) and starts nothing; the same key with another request is refused (idempotency_key_reused); asked while the first request with the key is still being processed, 409 idempotency_in_progress with Retry-After (ask again then: once that request has made its deployment, the answer is it). Keys are per user, for 24 hours.' };
export const IDEMPOTENCY_ERRORS = ['idempotency_key_reused', 'idempotency_in_progress'] as const;
/** A request's Idempotency-Key header: absent (empty) is none, a malformed one is a 400 before anything is done. */
export function idempotencyKeyOf(header: string): string | undefined {
  if (!header) return undefined;
  if (!IDEMPOTENCY_KEY.test(header)) throw errors.validation(`Idempotency-Key: ${IDEMPOTENCY_KEY_RULE}`);
  return header;
}
export const SERVICE_ID = /^(srv|crn)-[0-9a-z]{20}$/;
export const DEPLOY_ID = /^dep-[0-9a-z]{20}$/;

export const PageQuery = z.object({
  limit: queryWholeNumber({ min: 1, max: 100, default: 20 }),
  // `<score>_<id>` as listing.ts writes it: any other text answered an empty last page, as if the list had ended.
  cursor: z.preprocess((v) => (v === '' ? undefined : v), z.string().regex(/^\d{1,16}_dpl-[0-9a-z]{20}$/, 'cursor must be the nextCursor of a previous page').optional()),
}).strict(); // "?cursor[]=x" is a parameter named "cursor[]": dropped, it answered the first page
