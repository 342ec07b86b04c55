/**
 * New deploy: repository, branch, service name (from the repo unless edited), workspace, region, plan,
 * detected stack with editable build/start commands, environment variables. Sends POST /api/render/deploy
 * with an Idempotency-Key so a double click or a retried request starts one deploy.
 */
import { ApiError, noAnswer } from './api.js';
import { busy, field, h, notice, replace } from './dom.js';
import { serviceNameFromRepo } from './format.js';
import { createRepoPicker } from './repo-picker.js';
import { createEnvEditor } from './env-editor.js';
import { createServiceTypePicker, hasFreePlan, serviceTypeLabel } from './service-type.js';
import { createBlueprintPlan } from './blueprint-plan.js';
import { commandInput, setCommand } from './command-field.js';
import { askNotificationPermissionOnce, rememberStartedDeploy } from './deploy-notify.js';

// The same choices the API accepts (server/deployments/input.ts).
const REGIONS = [
  ['oregon', 'Oregon (US West)'], ['ohio', 'Ohio (US East)'], ['virginia', 'Virginia (US East)'],
  ['frankfurt', 'Frankfurt (EU Central)'], ['singapore', 'Singapore (Asia Pacific)'],
];
const PLANS = [
  ['free', 'Free'], ['starter', 'Starter'], ['starter_plus', 'Starter Plus'], ['standard', 'Standard'],
  ['standard_plus', 'Standard Plus'], ['pro', 'Pro'], ['pro_plus', 'Pro Plus'], ['pro_max', 'Pro Max'], ['pro_ultra', 'Pro Ultra'],
];
const STACK_LABELS = {
  node: 'Node.js', python: 'Python', go: 'Go', ruby: 'Ruby', rust: 'Rust', elixir: 'Elixir', docker: 'Docker', static: 'Static site',
};
const SERVICE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const select = (options, value, props = {}) =>
  h('select', { class: 'input', value, ...props }, options.map(([v, label]) => h('option', { value: v }, label)));

/** The session's key was refused by Render (revoked on its side): what to do. */
const keyRejectedNotice = () => notice('error',
  h('strong', null, 'Render rejected your API key (revoked?) — connect a new key. '),
  'Deploys with it cannot start. ', h('a', { href: '#/settings' }, 'Go to settings'));

export function deployView(ctx) {
  const render = ctx.session.render;
  if (!render?.configured) {
    return {
      title: 'New deploy',
      el: h('section', { class: 'page' },
        h('h1', { tabindex: '-1' }, 'New deploy'),
        notice('info', 'Connect your Render API key before deploying. ', h('a', { href: '#/settings' }, 'Go to settings'))),
    };
  }
  if (render.rejectedAt) {
    return {
      title: 'New deploy',
      el: h('section', { class: 'page' },
        h('h1', { tabindex: '-1' }, 'New deploy'),
        h('div', { 'data-testid': 'key-rejected' }, keyRejectedNotice())),
    };
  }

  const formError = h('div', { class: 'flash', tabindex: '-1' });
  const keyNote = h('div', { class: 'flash', 'data-testid': 'key-changed' });
  let repo = null;
  let detected = null;
  let detectSeq = 0;
  let lastAttempt = { body: null, key: null };

  const picker = createRepoPicker({ api: ctx.api, onSelect: (r) => onRepo(r) });

  const branch = field({ label: 'Branch', control: select([], '', { disabled: true, 'data-testid': 'branch-select' }), hint: 'Pick a repository first.' });
  const branchHint = branch.el.querySelector('.field__hint');
  const branchRetry = h('button', { type: 'button', class: 'btn btn--ghost btn--small', hidden: true, 'data-testid': 'branch-retry' }, 'Try again');
  branch.el.append(branchRetry);
  const nameInput = h('input', { type: 'text', class: 'input input--mono', autocomplete: 'off', spellcheck: 'false', maxlength: 63, 'data-testid': 'service-name' });
  const name = field({ label: 'Service name', control: nameInput, hint: 'Becomes <name>.onrender.com: lowercase letters, digits and hyphens.' });
  let nameEdited = false;
  nameInput.addEventListener('input', () => { nameEdited = nameInput.value.trim() !== ''; });
  // Whether the name is free in the workspace, checked as the user types (a name in use belongs to
  // another service, which a deploy never touches).
  const nameStatus = h('p', { class: 'field__status', role: 'status', 'aria-live': 'polite', 'data-testid': 'service-name-status' });
  name.el.append(nameStatus);
  /** `shown`: the name and workspace the status (and a "taken" error) speaks of, null when it says nothing. */
  const nameCheck = { seq: 0, timer: null, result: null, shown: null };

  const workspace = field({
    label: 'Workspace',
    control: select((render.owners ?? []).map((o) => [o.id, o.name]), render.owners?.[0]?.id ?? '', { 'data-testid': 'workspace-select' }),
  });
  let workspacePicked = false;
  workspace.control.addEventListener('change', () => { workspacePicked = true; scheduleNameCheck(0); });

  /**
   * `keyChanged`: the Render key was replaced, so what the status says (free, or taken by one of your
   * services) was the old key's answer. It goes at once, as it does when the name or workspace it speaks
   * of is no longer the one chosen; an answer still on its way is dropped.
   */
  function scheduleNameCheck(delayMs = 300, { keyChanged = false } = {}) {
    clearTimeout(nameCheck.timer);
    nameCheck.seq += 1;
    nameCheck.result = null;
    const nm = nameInput.value.trim().toLowerCase();
    const ownerId = workspace.control.value;
    if (keyChanged || nameCheck.shown !== `${ownerId}/${nm}`) clearNameStatus();
    if (!SERVICE_NAME.test(nm)) return;
    nameCheck.timer = setTimeout(() => checkName(nm, ownerId), delayMs);
  }

  function clearNameStatus() {
    // The "taken" error is the check's own; an error the submit set (the name's format) stays.
    if (nameStatus.dataset.state === 'taken') name.setError(null);
    nameCheck.shown = null;
    nameStatus.replaceChildren();
    nameStatus.dataset.state = '';
  }

  async function checkName(nm, ownerId) {
    const mine = ++nameCheck.seq;
    try {
      const res = await ctx.api.serviceNameCheck(nm, ownerId || undefined);
      if (mine !== nameCheck.seq) return;
      nameCheck.result = { name: nm, ownerId, ...res };
      nameCheck.shown = `${ownerId}/${nm}`;
      nameStatus.dataset.state = res.available ? 'free' : 'taken';
      if (res.available) {
        replace(nameStatus, h('span', { class: 'ok-mark', 'aria-hidden': 'true' }, '✓ '), `${nm} is free in this workspace.`);
        name.setError(null);
        return;
      }
      const what = res.existing?.repo ? ` (it deploys ${String(res.existing.repo).replace(/^https:\/\/github\.com\//, '')}${res.existing.branch ? ` @ ${res.existing.branch}` : ''})` : '';
      const use = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'data-testid': 'service-name-use-suggestion' }, `Use ${res.suggestion}`);
      use.addEventListener('click', () => { nameInput.value = res.suggestion; nameEdited = true; scheduleNameCheck(0); nameInput.focus(); });
      nameStatus.replaceChildren();
      name.setError(`You already have a service named ${nm}${what}. A deploy never changes an existing service: choose another name, or redeploy that service from the dashboard.`);
      replace(nameStatus, 'Free instead: ', h('strong', { class: 'mono' }, res.suggestion), ' ', use);
    } catch (err) {
      if (mine !== nameCheck.seq) return;
      if (nameStatus.dataset.state === 'taken') name.setError(null);
      nameCheck.shown = `${ownerId}/${nm}`;
      nameStatus.dataset.state = 'unknown';
      replace(nameStatus, `Could not check the name right now (${err.message}); the deploy checks it again.`);
    }
  }
  nameInput.addEventListener('input', () => scheduleNameCheck());

  const region = field({ label: 'Region', control: select(REGIONS, 'oregon', { 'data-testid': 'region-select' }) });
  // Free while the type has a free instance type, Starter otherwise, until the user picks one: a first deploy
  // with the form as it came made a paid service on the user's account (found by a new-user walkthrough).
  const plan = field({ label: 'Plan', control: select(PLANS, 'free', { 'data-testid': 'plan-select' }), hint: 'Free instances spin down when idle; paid plans bill your Render account.' });
  let planChosen = false;
  plan.control.addEventListener('change', () => { planChosen = true; });

  const stackPanel = h('div', { class: 'stack-panel', 'aria-live': 'polite', 'data-testid': 'detected-stack' },
    h('p', { class: 'muted' }, 'Pick a repository to detect how it builds.'));
  const buildInput = commandInput('build-command');
  const startInput = commandInput('start-command');
  // What the command hints say depends on whether there is a detection yet ("Prefilled from the detected
  // stack" was said before any repository was picked).
  const COMMAND_HINT = {
    none: 'Proposed from the repository once you pick one. Enter starts a new line, run in turn.',
    detected: 'Prefilled from the detected stack; edit to override. Enter starts a new line, run in turn.',
    failed: 'Nothing was detected to fill in. Enter starts a new line, run in turn.',
  };
  const build = field({ label: 'Build command', control: buildInput, hint: COMMAND_HINT.none });
  const start = field({ label: 'Start command', control: startInput, hint: COMMAND_HINT.none });
  const setCommandHints = (which) => {
    for (const f of [build, start]) f.el.querySelector('.field__hint').textContent = COMMAND_HINT[which];
  };
  const edited = { build: false, start: false };
  buildInput.addEventListener('input', () => { edited.build = true; });
  startInput.addEventListener('input', () => { edited.start = true; });
  // A static site has no start command: Render serves the folder its build leaves, as detected (the API
  // takes no other; the worker publishes public/ for a repository detected as another type).
  const publishInput = h('input', { type: 'text', class: 'input input--mono', readonly: true, placeholder: 'Found in the repository', 'data-testid': 'publish-path' });
  const publish = field({ label: 'Publish directory', control: publishInput, hint: 'The folder of built files Render serves, found in the repository; Render\'s dashboard can change it after the first deploy.' });
  const buildLegend = h('legend', { class: 'card__legend' }, 'Build and start');

  /** The fields follow the type: a static site has a publish directory, and no start command, region or plan. */
  function showType(type) {
    const staticSite = type === 'static_site';
    start.el.hidden = staticSite;
    publish.el.hidden = !staticSite;
    region.el.hidden = staticSite;
    plan.el.hidden = staticSite;
    if (!planChosen) plan.control.value = hasFreePlan(type) ? 'free' : 'starter';
    buildLegend.textContent = staticSite ? 'Build and publish' : 'Build and start';
    publishInput.value = !detected ? '' : detected.serviceType === 'static_site' ? detected.publishPath ?? '' : 'public';
  }
  const serviceType = createServiceTypePicker({ onChange: showType });
  const blueprint = createBlueprintPlan({
    api: ctx.api,
    target: () => ({ owner: repo.owner, repo: repo.name, branch: branch.control.value || undefined, ownerId: workspace.control.value || undefined }),
  });
  const env = createEnvEditor();
  const submit = h('button', { type: 'submit', class: 'btn btn--primary btn--large', 'data-testid': 'deploy-submit' }, 'Deploy');

  /**
   * What detection filled in goes with the repository or branch it was for: a repository or branch picked
   * since, whose detection failed, kept the earlier one's commands in the fields, sent as the user's own
   * (commandIfChanged compares with no detection): Render built the new repository with them.
   */
  function forgetDetection() {
    detected = null;
    if (!edited.build) setCommand(buildInput, '');
    if (!edited.start) setCommand(startInput, '');
  }

  async function onRepo(r) {
    // Commands typed for another repository are not this one's; a detection still on its way for it is dropped.
    if (repo?.fullName !== r.fullName) { edited.build = false; edited.start = false; }
    detectSeq += 1;
    forgetDetection();
    // Not the previous repository's stack while this one's branches load.
    replace(stackPanel, h('p', { class: 'muted' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Detecting the stack…'));
    repo = r;
    formError.replaceChildren();
    if (!nameEdited) nameInput.value = serviceNameFromRepo(r.name);
    name.setError(null);
    scheduleNameCheck(0);
    if (await loadBranches(r)) detect();
  }

  /** Fills the branch select for `r`; false when another repository was picked meanwhile. */
  async function loadBranches(r) {
    const sel = branch.control;
    sel.disabled = true;
    branchRetry.hidden = true;
    branch.setError(null);
    branchHint.textContent = 'Loading branches…';
    replace(sel, h('option', { value: '' }, 'Loading branches…'));
    try {
      const res = await ctx.api.branches(r.owner, r.name);
      if (repo !== r) return false;
      const names = (res.branches ?? []).map((b) => (typeof b === 'string' ? b : b?.name)).filter((b) => typeof b === 'string');
      const def = res.defaultBranch ?? r.defaultBranch;
      replace(sel, names.map((b) => h('option', { value: b }, b === def ? `${b} (default)` : b)));
      sel.value = names.includes(def) ? def : (names[0] ?? '');
      sel.disabled = names.length === 0;
      branchHint.textContent = `${names.length} ${names.length === 1 ? 'branch' : 'branches'}; the default is ${def}.`;
      branch.setError(names.length ? null : 'This repository has no branches to deploy.');
    } catch (err) {
      if (repo !== r) return false;
      // The list is missing, not the repository: its default branch (known from the repository list)
      // still deploys, and "Try again" asks for the list again, so the form is never stuck on the failure.
      const def = r.defaultBranch;
      replace(sel, def ? h('option', { value: def }, `${def} (default)`) : h('option', { value: '' }, '(could not load branches)'));
      sel.value = def ?? '';
      sel.disabled = !def;
      branchHint.textContent = def ? 'Only the default branch is offered until the list loads.' : 'Pick a branch once the list loads.';
      branch.setError(`Could not load branches: ${err.message}`);
      branchRetry.hidden = false;
    }
    return true;
  }
  branchRetry.addEventListener('click', async () => {
    const r = repo;
    if (r && await loadBranches(r)) detect();
  });
  branch.control.addEventListener('change', () => detect());

  async function detect() {
    if (!repo) return;
    const mine = ++detectSeq;
    const br = branch.control.value || undefined;
    replace(stackPanel, h('p', { class: 'muted' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Detecting the stack…'));
    try {
      const d = await ctx.api.detect(repo.owner, repo.name, br);
      if (mine !== detectSeq) return;
      detected = d;
      setCommandHints('detected');
      serviceType.setDetected(d);
      // As declared, line breaks included (a render.yaml block); only the block's final line break,
      // which changes nothing that runs, is left out.
      if (!edited.build) setCommand(buildInput, (d.buildCommand ?? '').trimEnd());
      if (!edited.start) setCommand(startInput, (d.startCommand ?? '').trimEnd());
      startInput.placeholder = d.startCommand === null ? (d.stack === 'docker' ? "The image's CMD" : 'Not needed') : '';
      buildInput.placeholder = d.buildCommand === '' ? 'Nothing to build' : '';
      replace(stackPanel,
        h('p', { class: 'stack-panel__title' },
          h('span', { class: 'ok-mark', 'aria-hidden': 'true' }, '✓ '),
          'Detected: ', h('strong', { 'data-testid': 'detected-stack-name' }, STACK_LABELS[d.stack] ?? d.stack),
          h('span', { class: 'muted' }, ` · ${serviceTypeLabel(d.serviceType).toLowerCase()}${d.schedule ? ` (${d.schedule})` : ''} · runtime ${d.runtime}`)),
        h('p', { class: 'stack-panel__reason' }, d.reason),
        d.hasBlueprint ? (blueprint.reset(), blueprint.el) : null);
    } catch (err) {
      if (mine !== detectSeq) return;
      forgetDetection();
      setCommandHints('failed');
      serviceType.setDetected(null);
      if (err instanceof ApiError && err.code === 'stack_not_detected') {
        // The message says whether build and start commands of one's own would do (a root naming no language gets none to run on).
        replace(stackPanel, notice('warning', h('strong', null, 'Could not detect the stack. '), err.message));
      } else {
        replace(stackPanel, notice('warning', `Stack detection is unavailable: ${err.message}`));
      }
    }
  }

  /** Sends a command only when the user changed it from what detection proposed. */
  function commandIfChanged(input, detectedValue) {
    const v = input.value.trim();
    return v && v !== (detectedValue ?? '').trim() ? v : undefined;
  }

  function validate() {
    let first = null;
    const fail = (f, msg) => { f.setError(msg); first ??= f.control; };
    formError.replaceChildren();
    if (!repo) {
      formError.append(notice('error', 'Choose a repository to deploy.'));
      first = picker.el.querySelector('input, button');
    }
    const nm = nameInput.value.trim().toLowerCase();
    const check = nameCheck.result;
    if (!SERVICE_NAME.test(nm)) fail(name, 'Use 1–63 lowercase letters, digits and hyphens, not starting or ending with a hyphen.');
    else if (check && check.name === nm && check.ownerId === workspace.control.value && !check.available) {
      fail(name, `You already have a service named ${nm}. Choose another name, such as ${check.suggestion}.`);
    } else name.setError(null);
    if (repo && !branch.control.value) fail(branch, 'Choose a branch.');
    const typed = serviceType.collect(plan.control.value);
    first ??= typed.first ?? null;
    const { vars, firstInvalid } = env.collect();
    first ??= firstInvalid;
    return { ok: !first, first, vars, serviceName: nm, typeFields: typed.body ?? {} };
  }

  const form = h('form', { class: 'form deploy-form', novalidate: true, 'aria-labelledby': 'deploy-heading' },
    keyNote,
    formError,
    h('fieldset', { class: 'card' },
      h('legend', { class: 'card__legend' }, 'Source'),
      picker.el,
      branch.el),
    h('fieldset', { class: 'card' },
      h('legend', { class: 'card__legend' }, 'Service'),
      name.el,
      h('div', { class: 'grid-3' }, workspace.el, region.el, plan.el)),
    h('fieldset', { class: 'card' },
      buildLegend,
      stackPanel,
      serviceType.el,
      h('div', { class: 'grid-2' }, build.el, start.el, publish.el)),
    h('fieldset', { class: 'card' },
      h('legend', { class: 'card__legend' }, 'Environment variables'),
      env.el),
    h('div', { class: 'actions actions--end' }, h('a', { class: 'btn btn--ghost', href: '#/' }, 'Cancel'), submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    askNotificationPermissionOnce(); // on the click itself: browsers ask only during a user gesture
    const v = validate();
    if (!v.ok) { v.first?.focus(); return; }
    const body = {
      github_repo: repo.fullName,
      project_name: v.serviceName,
      branch: branch.control.value || undefined,
      owner_id: workspace.control.value || undefined,
      region: region.control.value,
      plan: plan.control.value,
      env_vars: v.vars.length ? v.vars : undefined,
      build_command: commandIfChanged(buildInput, detected?.buildCommand),
      // Hidden for a static site, which runs none: not sent as if it would.
      start_command: serviceType.type() === 'static_site' ? undefined : commandIfChanged(startInput, detected?.startCommand),
      ...v.typeFields,
    };
    // Same request again (double click, retry after a network error) → same key → same deployment.
    const signature = JSON.stringify(body);
    if (lastAttempt.body !== signature) lastAttempt = { body: signature, key: crypto.randomUUID() };
    try {
      const rec = await busy(submit, 'Starting deploy…', () => ctx.api.deploy(body, lastAttempt.key));
      rememberStartedDeploy(rec.id, rec.request?.serviceName ?? v.serviceName, ctx.session?.user.id);
      ctx.announce(`Deploy of ${rec.request?.serviceName ?? v.serviceName} queued`);
      ctx.navigate(`#/deployments/${rec.id}`);
    } catch (err) {
      // A problem with one variable goes on its row, worded without the API's field path.
      const field = err instanceof ApiError ? err.field : null;
      const onRow = field && env.showServerError(field, err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message);
      if (onRow) { onRow.focus(); return; }
      const onField = field && serviceType.showServerError(field, err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message);
      if (onField) { onField.focus(); return; }
      // No answer (the connection dropped) is not a refusal: the server may have started it. The same
      // request again carries the same Idempotency-Key, so it opens that deploy rather than a second one.
      // A proxy's 502 or 504, or the same request still being made (idempotency_in_progress), is no answer either.
      const unanswered = noAnswer(err);
      replace(formError, unanswered
        ? notice('error', h('strong', null, 'No answer from the server: the deploy may have started. '),
          'Check your connection and press Deploy again. With the same settings, that opens the deploy if it started, and never starts a second one.')
        : notice('error', h('strong', null, 'The deploy did not start. '), err.message));
      formError.focus();
    }
  });

  const el = h('section', { class: 'page page--narrow' },
    h('h1', { id: 'deploy-heading', tabindex: '-1' }, 'New deploy'),
    h('p', { class: 'lead' }, 'Deploy a GitHub repository to your Render account.'),
    form);
  /**
   * The key was replaced in another tab: the deploy goes out with the new one, so the workspaces offered
   * are its own, and what was typed stays (drawing the page again lost it all, env values included).
   * With no key, or no workspace, left the page is drawn again and says what to do. `workspacesOnly`: the
   * same key, whose workspaces Render listed anew (ctx.refreshWorkspaces, as the page opened).
   */
  function onSessionChanged({ workspacesOnly = false } = {}) {
    // A Deploy pressed again now is a request with the new key: the one whose answer was lost went out
    // with the old one (stopped by the replacement), and its Idempotency-Key would only open that one again.
    if (!workspacesOnly) lastAttempt = { body: null, key: null };
    // Render refused the key (seen by a call of this page's or another's): a deploy with it would end at once.
    // What was typed stays, for after a new key is connected in Settings.
    if (ctx.session.render?.rejectedAt) { replace(keyNote, h('div', { 'data-testid': 'key-rejected' }, keyRejectedNotice())); return; }
    const owners = ctx.session.render?.configured ? ctx.session.render.owners ?? [] : [];
    if (!owners.length) { ctx.navigate(location.hash); return; }
    const sel = workspace.control;
    const was = sel.value;
    replace(sel, owners.map((o) => h('option', { value: o.id }, o.name)));
    const pickGone = !owners.some((o) => o.id === was);
    sel.value = pickGone ? owners[0].id : was;
    // Render's list of the same key's workspaces changed (workspacesOnly): a team joined or renamed changes
    // nothing the user chose, and says nothing; one they had picked and no longer have does.
    if (workspacesOnly && !(pickGone && workspacePicked)) { if (pickGone) scheduleNameCheck(0); return; }
    const said = workspacesOnly
      ? 'The workspace picked here is no longer one your Render key can use (Render\'s list changed): pick one of those below.'
      : 'Your Render key was replaced in another tab: this deploy goes out with the new key, to one of its workspaces below.';
    replace(keyNote, notice('info', said));
    // The note appears as a new role=status element with its text, which screen readers do not reliably read
    // out (the flash holding it is no live region): the page's announcer says it, once per change.
    ctx.announce(said);
    // A Blueprint plan shown was Render's answer to the old key, for its workspace: asked again if wanted.
    blueprint.reset();
    scheduleNameCheck(0, { keyChanged: !workspacesOnly });
  }

  // The workspaces offered are the session's, which Render gave when the key was connected: asked again now.
  let disposed = false;
  void ctx.refreshWorkspaces().then((changed) => { if (changed && !disposed) onSessionChanged({ workspacesOnly: true }); });

  return { title: 'New deploy', el, onSessionChanged, dispose() { disposed = true; picker.dispose(); detectSeq += 1; nameCheck.seq += 1; clearTimeout(nameCheck.timer); } };
}
