/**
 * The deploy form's service type (issue 15): what detection found, or the user's choice of web service,
 * background worker, cron job (with its schedule), private service or static site. Only a choice the
 * user made is sent (service_type, schedule); otherwise the worker uses what it detects.
 */
import { field, h } from './dom.js';
import { cronScheduleProblem } from './cron.js';

// Render's service types and what the form says about them (templates/types/ on the server).
export const SERVICE_TYPES = [
  ['web_service', 'Web service', 'Public HTTP server at <name>.onrender.com (listens on $PORT).'],
  ['background_worker', 'Background worker', 'Long-running process with no port, e.g. a queue consumer. Paid plans only.'],
  ['cron_job', 'Cron job', 'Runs its start command on a schedule (UTC), then exits. Paid plans only.'],
  ['private_service', 'Private service', 'Reachable only from your other Render services; no public URL. Paid plans only.'],
  ['static_site', 'Static site', 'Built once and served from Render\'s CDN: no server, so no start command, region or plan.'],
];
/** The schedule field's words, here and on a cron job's settings page (view-service.js). */
export const SCHEDULE_LABEL = 'Schedule (cron, UTC)';
export const SCHEDULE_HINT = 'Five fields: minute hour day-of-month month day-of-week, e.g. */15 * * * * for every 15 minutes.';
export const SCHEDULE_NEEDED = 'A cron job needs a schedule, e.g. 0 3 * * * for 03:00 UTC daily.';
const LABEL = Object.fromEntries(SERVICE_TYPES.map(([v, label]) => [v, label]));
const NO_FREE_PLAN = new Set(['background_worker', 'cron_job', 'private_service']);

export const serviceTypeLabel = (type) => LABEL[type] ?? type ?? 'Web service';

/** Whether Render has a free instance type for this service type (the deploy form's default plan follows it). */
export const hasFreePlan = (type) => !NO_FREE_PLAN.has(type);

/** @param {{ onChange?: (type: string) => void }} [o]  told the type the form now stands for, on each change */
export function createServiceTypePicker({ onChange = () => {} } = {}) {
  const select = h('select', { class: 'input', 'data-testid': 'service-type-select' },
    h('option', { value: '' }, 'As detected'),
    SERVICE_TYPES.map(([v, label]) => h('option', { value: v }, label)));
  const typeField = field({ label: 'Service type', control: select, hint: 'Detected from the repository (a Procfile worker: entry, a cron service in render.yaml); choose another to override.' });
  const typeHint = typeField.el.querySelector('.field__hint');
  const scheduleInput = h('input', { type: 'text', class: 'input input--mono', autocomplete: 'off', spellcheck: 'false', maxlength: 200, placeholder: '0 3 * * *', 'data-testid': 'schedule-input' });
  const scheduleField = field({ label: SCHEDULE_LABEL, control: scheduleInput, hint: SCHEDULE_HINT });
  scheduleField.el.dataset.testid = 'schedule-field';
  /** undefined: no repository read yet; null: its detection failed. */
  let detected;
  const edited = { type: false, schedule: false };

  const effectiveType = () => select.value || detected?.serviceType || 'web_service';
  function refresh() {
    scheduleField.el.hidden = effectiveType() !== 'cron_job';
    const about = SERVICE_TYPES.find(([v]) => v === effectiveType())?.[2] ?? '';
    // "Detected: Web service" was said before any repository was picked, and when detection failed.
    if (select.value) typeHint.textContent = about;
    else if (detected) typeHint.textContent = `Detected: ${serviceTypeLabel(detected.serviceType)}. ${about}`;
    else if (detected === null) typeHint.textContent = `Not detected: a web service unless you choose another. ${about}`;
    else typeHint.textContent = 'Detected from the repository once you pick one (a Procfile worker: entry, a cron service in render.yaml); or choose one here.';
    onChange(effectiveType());
  }
  select.addEventListener('change', () => { edited.type = true; typeField.setError(null); refresh(); });
  // Checked as it is typed (once typing pauses, and on leaving the field), by the server's rule (cron.js).
  let checkTimer = null;
  const checkSchedule = () => {
    clearTimeout(checkTimer);
    const schedule = scheduleInput.value.trim();
    scheduleField.setError(schedule ? cronScheduleProblem(schedule) : null);
  };
  scheduleInput.addEventListener('input', () => {
    edited.schedule = true;
    scheduleField.setError(null);
    clearTimeout(checkTimer);
    checkTimer = setTimeout(checkSchedule, 400);
  });
  scheduleInput.addEventListener('blur', () => { if (scheduleInput.value.trim()) checkSchedule(); });
  refresh();

  return {
    el: h('div', { class: 'grid-2' }, typeField.el, scheduleField.el),
    /** The type a deploy now would have: the one chosen, else the one detected, else a web service. */
    type: effectiveType,
    /** A new detection result (null: it failed): its type and schedule are shown unless the user already chose. */
    setDetected(d) {
      detected = d;
      if (!edited.schedule) scheduleInput.value = d?.schedule ?? '';
      refresh();
    },
    /** Checks the fields; returns the request fields to send, or the control to focus. */
    collect(plan) {
      typeField.setError(null);
      scheduleField.setError(null);
      const type = effectiveType();
      const schedule = scheduleInput.value.trim();
      if (type === 'cron_job' && !schedule) {
        scheduleField.setError(SCHEDULE_NEEDED);
        return { first: scheduleInput };
      }
      const problem = type === 'cron_job' ? cronScheduleProblem(schedule) : null;
      if (problem) {
        scheduleField.setError(problem);
        return { first: scheduleInput };
      }
      if (NO_FREE_PLAN.has(type) && plan === 'free') {
        typeField.setError(`Render has no free instance type for a ${serviceTypeLabel(type).toLowerCase()}: choose Starter or above as the plan.`);
        return { first: select };
      }
      const chosen = select.value !== '' || (type === 'cron_job' && edited.schedule);
      if (!chosen) return { body: {} };
      return { body: { service_type: type, ...(type === 'cron_job' ? { schedule } : {}) } };
    },
    /** Puts a server validation error on its field; returns the control to focus, or null. */
    showServerError(fieldName, message) {
      if (fieldName === 'schedule') { scheduleField.el.hidden = false; scheduleField.setError(message); return scheduleInput; }
      if (fieldName === 'service_type') { typeField.setError(message); return select; }
      return null;
    },
  };
}
