import { AppError, CONFLICT_CODES, errors } from '../errors.js';

/** An error code the API answers with (checked against the catalogue when the document is built). */
export type ErrorCode = string;

export interface ErrorCodeEntry { code: string; status: number; example: string }

/**
 * Every error code, with its status and an example message, read from server/errors.ts by calling each
 * factory (arguments are only wording) and each 409 code. A code that is not made by a factory there
 * is not in the document, and the contract check in the tests fails on the first response carrying it.
 */
export function errorCatalogue(): ErrorCodeEntry[] {
  const made: AppError[] = [];
  for (const [name, factory] of Object.entries(errors)) {
    if (name === 'conflict') continue;
    made.push((factory as () => AppError)());
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
