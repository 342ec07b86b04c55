import { z } from 'zod';

/**
 * A whole number in a query string, written in digits (`?limit=20`). `z.coerce.number()` reads it with
 * Number(), which also takes `0x14` (20), `1e1`, ` 20 `, `20.0` and `0b10`: a client sending those asked
 * for something else, and was answered as if it had sent 20. Blank is absent (the default) where
 * `blankIsAbsent`; elsewhere it is refused, as Number('') = 0 was below every minimum.
 */
export function queryWholeNumber(bounds: { min: number; max: number; default: number }, opts: { blankIsAbsent?: boolean } = {}) {
  return z.preprocess(
    (v) => {
      if (opts.blankIsAbsent && v === '') return undefined;
      return typeof v === 'string' && /^[0-9]{1,15}$/.test(v) ? Number(v) : v;
    },
    z.number({ error: (issue) => (issue.input === undefined ? undefined : 'must be a whole number, in digits') })
      .int().min(bounds.min).max(bounds.max).default(bounds.default),
  );
}
