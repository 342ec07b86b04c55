import { AppError, CONFLICT_CODES, errors } from '../errors.js';

/** An error code the API answers with (checked against the catalogue when the document is built). */
export type ErrorCode = string;

export interface ErrorCodeEntry { code: string; status: number; example: string }

/**
 * The wording a factory needs to make a readable example (called with none, `payloadTooLarge` said "larger than
 * undefined"); the others have defaults of their own.
 */
const EXAMPLE_ARGS: Record<string, unknown[]> = {
  badRequest: ['The request cannot be read as sent (the message says what to change).'],
  validation: ['project_name: Too small: expected string to have >=1 characters (each problem, prefixed with its field).'],
  payloadTooLarge: ['the allowed size'],
  locked: [900, 'Too many invalid Render API keys were tried, so key setup is locked for your account until 12:15 UTC: try again in 15 minutes.'],
  rateLimited: [60],
  renderRateLimited: [30],
};

/**
 * Every error code, with its status and an example message, read from server/errors.ts by calling each
 * factory (arguments are only wording) and each 409 code. A code that is not made by a factory there
 * is not in the document, and the contract check in the tests fails on the first response carrying it.
 */
export function errorCatalogue(): ErrorCodeEntry[] {
  const made: AppError[] = [];
  for (const [name, factory] of Object.entries(errors)) {
    if (name === 'conflict') continue;
    made.push((factory as (...args: unknown[]) => AppError)(...(EXAMPLE_ARGS[name] ?? [])));
  }
  for (const code of CONFLICT_CODES) made.push(errors.conflict(code, 'The request conflicts with the current state (the message says how).'));
  const byCode = new Map<string, ErrorCodeEntry>();
  for (const e of made) {
    const seen = byCode.get(e.code);
    if (seen && seen.status !== e.status) throw new Error(`error code ${e.code} is used with two statuses (${seen.status}, ${e.status})`);
    if (!seen) byCode.set(e.code, { code: e.code, status: e.status, example: e.message });
  }
  return [...byCode.values()].sort((a, b) => a.status - b.status || a.code.localeCompare(b.code));
}
