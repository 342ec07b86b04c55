/**
 * Render's cron job schedules: a standard five-field cron expression (minute hour day-of-month month
 * day-of-week), in UTC (docs/render-api.md, "Service types"). Read in one pass without a regex: the
 * schedule comes from a form or a repository's render.yaml, so the check must stay linear in its length.
 */

interface CronField { name: string; min: number; max: number; names?: readonly string[] }

const FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  // 7 is Sunday too, as in cron.
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

export const CRON_SCHEDULE_MAX_CHARS = 200;

/** Words between spaces or tabs, without a regex. */
function words(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const ch of text) {
    if (ch === ' ' || ch === '\t') {
      if (current) out.push(current);
      current = '';
    } else current += ch;
  }
  if (current) out.push(current);
  return out;
}

/** ASCII letters only: toUpperCase folds some others onto them ("ı" → "I", "ſ" → "S"), which no cron parser reads. */
const isAsciiLetters = (s: string) => [...s].every((c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

/** A whole number of at most two digits, or a name of the field (offset by its min), else null. */
function valueOf(text: string, field: CronField): number | null {
  if (text.length >= 1 && text.length <= 2 && [...text].every((c) => c >= '0' && c <= '9')) return Number(text);
  const index = isAsciiLetters(text) ? field.names?.indexOf(text.toUpperCase()) ?? -1 : -1;
  return index === -1 ? null : index + (field.name === 'month' ? 1 : 0);
}

/** What is wrong with one comma-separated item of a field, or null. */
function itemProblem(item: string, field: CronField): string | null {
  const slash = item.indexOf('/');
  const range = slash === -1 ? item : item.slice(0, slash);
  if (slash !== -1) {
    const step = item.slice(slash + 1);
    const n = step.length <= 2 && step.length > 0 && [...step].every((c) => c >= '0' && c <= '9') ? Number(step) : NaN;
    if (!(n >= 1 && n <= field.max)) return `the step "/${step}" in the ${field.name} field must be a number from 1 to ${field.max}`;
  }
  if (range === '*') return null;
  const dash = range.indexOf('-');
  const parts = dash === -1 ? [range] : [range.slice(0, dash), range.slice(dash + 1)];
  const values: number[] = [];
  for (const part of parts) {
    const v = valueOf(part, field);
    if (v === null || v < field.min || v > field.max) {
      return `"${part}" is not a valid ${field.name} (${field.min}–${field.max}${field.names ? ` or ${field.names[0]}–${field.names[field.names.length - 1]}` : ''})`;
    }
    values.push(v);
  }
  if (values.length === 2 && values[0]! > values[1]!) return `the range "${range}" in the ${field.name} field runs backwards`;
  if (slash !== -1 && dash === -1) return `a step needs "*" or a range before it in the ${field.name} field ("*/${item.slice(slash + 1)}")`;
  return null;
}

/** Why `schedule` is not a schedule Render can run, in words for the form; null when it is fine. */
export function cronScheduleProblem(schedule: string): string | null {
  if (schedule.length > CRON_SCHEDULE_MAX_CHARS) return `A schedule is at most ${CRON_SCHEDULE_MAX_CHARS} characters.`;
  const parts = words(schedule);
  if (parts.length === 1 && parts[0]!.startsWith('@')) return `Shortcuts like ${parts[0]} are not accepted; write the five fields, e.g. "0 3 * * *" for 03:00 UTC daily.`;
  if (parts.length !== 5) {
    return `A schedule has five fields (minute hour day-of-month month day-of-week), e.g. "*/15 * * * *"; this one has ${parts.length}.`;
  }
  for (let i = 0; i < 5; i++) {
    for (const item of parts[i]!.split(',')) {
      if (item === '') return `The ${FIELDS[i]!.name} field has an empty item (two commas in a row, or one at an end).`;
      const problem = itemProblem(item, FIELDS[i]!);
      if (problem) return `Invalid schedule: ${problem}.`;
    }
  }
  return null;
}
