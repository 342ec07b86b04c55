import { fieldName } from './validate.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The first member name a JSON body gives twice in one object, or null (`raw` is JSON the parser read).
 *
 * JSON.parse keeps the last of two members with one name and says nothing, so the route judged a body
 * other than the one sent: `"env_vars":{"A":"x","A":"y"}` was a deploy with A=y (the list form refuses a
 * name given twice), `{"api_key":"rnd_a…","api_key":"rnd_b…"}` connected the second key. RFC 8259 leaves
 * such a document's meaning to its reader; a form field sent twice is already refused (an array where a
 * string goes). Names are compared decoded ("\u0041" is "A"). One pass over at most the 64 KB body limit.
 */
export function duplicateJsonKey(raw: string): string | null {
  // Each open object's names so far; null for an open array.
  const open: Array<Set<string> | null> = [];
  let nameNext = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === QUOTE) {
      let end = i + 1;
      let escaped = false;
      // Bounded by the length too: the parser accepted `raw` (every string closes), but a loop must not hang on a surprise.
      for (let d = raw.charCodeAt(end); d !== QUOTE && end < raw.length; d = raw.charCodeAt(end)) {
        if (d === BACKSLASH) { escaped = true; end += 2; } else end += 1;
      }
      const names = open[open.length - 1];
      if (nameNext && names) {
        const name = escaped ? JSON.parse(raw.slice(i, end + 1)) as string : raw.slice(i + 1, end);
        if (names.has(name)) return name;
        names.add(name);
      }
      nameNext = false;
      i = end;
    } else if (c === 0x7b /* { */) {
      open.push(new Set());
      nameNext = true;
    } else if (c === 0x5b /* [ */) {
      open.push(null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      open.pop();
    } else if (c === 0x2c /* , */) {
      nameNext = open[open.length - 1] != null;
    }
  }
  return null;
}

/** The 400 message for a name given twice: the name only as validate.ts shows field names (a pasted secret is masked). */
export const duplicateKeyMessage = (name: string) =>
  `A JSON object in the body holds the member ${fieldName(name)} twice; send each field once.`;
