import type { IncomingMessage } from 'node:http';
import { isUtf8 } from 'node:buffer';
import { brotliDecompressSync, unzipSync } from 'node:zlib';

/**
 * Watches the bytes of a request body the parser is reading (call it once the parser is listening, so
 * no chunk is missed), and answers afterwards whether they were UTF-8.
 *
 * The parser (co-body) decodes every body as UTF-8, whatever its charset parameter says, and turns each
 * byte sequence that is not UTF-8 into U+FFFD: a JSON body with "café" in Latin-1 was read as "caf\uFFFD"
 * and stored so (an env var value). Only a decoded body holding U+FFFD can have been such a body, so only
 * then are its bytes looked at (undone from their Content-Encoding as the parser undid them, bounded as
 * the parser bounded them: it read them whole, under the body limit).
 */
export function watchBodyBytes(req: IncomingMessage, limitBytes: number): (decoded: string) => boolean {
  let chunks: Buffer[] | null = [];
  let kept = 0;
  // A body the parser read whole is under its limit (compressed, hardly larger): past twice that, the
  // parser is refusing it, and nothing more is kept.
  const onData = (chunk: Buffer) => {
    kept += chunk.length;
    if (kept > 2 * limitBytes) chunks = null; else chunks?.push(chunk);
  };
  req.on('data', onData);
  return (decoded) => {
    req.off('data', onData);
    if (!decoded.includes('\uFFFD')) return true;
    if (!chunks) return false;
    const sent = Buffer.concat(chunks);
    const opts = { maxOutputLength: limitBytes + 1 };
    try {
      switch ((req.headers['content-encoding'] ?? 'identity').trim().toLowerCase()) {
        case 'identity': return isUtf8(sent);
        case 'gzip': case 'deflate': return isUtf8(unzipSync(sent, opts));
        case 'br': return isUtf8(brotliDecompressSync(sent, opts));
        default: return false;
      }
    } catch {
      return false;
    }
  };
}
