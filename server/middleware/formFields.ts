import qs from 'qs';

/** qs's parameterLimit default: it reads this many '&'-separated parts (empty ones included) and drops the rest. */
const QS_PARAMETER_LIMIT = 1000;

/**
 * Why a form body (application/x-www-form-urlencoded) was not read whole, or null when it was.
 *
 * The parser (qs, under @koa/bodyparser's co-body) silently leaves out a field without a name ("=x", "= "),
 * one named after an Object.prototype member ("__proto__=1", "constructor[prototype][x]=1") and every part
 * after its 1,000th. The route then judged a body without them: "= " was an empty body, a valid plain
 * redeploy, and was accepted (202) where the client had sent something else. Each non-empty part is parsed
 * alone, with the options co-body uses, so "left out" means exactly what the parser did; only form bodies
 * pay for it. A part whose %-escaped bytes are not UTF-8 is refused too (escapesNotUtf8).
 */
export function unreadFormField(raw: string): string | null {
  const parts = raw.split('&');
  if (parts.length > QS_PARAMETER_LIMIT) return `A form body may hold at most ${QS_PARAMETER_LIMIT} fields.`;
  for (const part of parts) {
    if (part !== '' && Object.keys(qs.parse(part, { allowDots: true })).length === 0) {
      return 'A form field has no name, or a name that cannot be used (such as __proto__). Send only the documented fields.';
    }
    if (escapesNotUtf8(part)) {
      return 'A form field holds %-escaped bytes that are not UTF-8 (form bodies are read as UTF-8, whatever their charset). Send the text encoded as UTF-8.';
    }
  }
  return null;
}

/** A run of %XX escapes (bytes); a % before anything else is text, as qs and the URL standard keep it. */
const BYTE_ESCAPES = /(?:%[0-9A-Fa-f]{2})+/g;

/**
 * Whether a part's escaped bytes are not UTF-8. qs decodes them as UTF-8 and keeps an escape run that is
 * not as its characters: "value=caf%E9" (café as a Latin-1 page sends it) was the text "caf%E9", and
 * the route stored that. A character's bytes are one run, so each run is decoded alone.
 */
function escapesNotUtf8(part: string): boolean {
  if (!part.includes('%')) return false;
  for (const run of part.match(BYTE_ESCAPES) ?? []) {
    try { decodeURIComponent(run); } catch { return true; }
  }
  return false;
}
