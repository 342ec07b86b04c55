// Undoing an answer's Content-Encoding, for the two HTTP clients that read answers by hand
// (server/github/transport.ts, server/render/adapter.ts): one place for which codings are known and
// how each is bounded.
import { brotliDecompress, inflate, inflateRaw, unzip } from 'node:zlib';

export type ContentDecoder = (raw: Buffer, opts: { maxOutputLength?: number }, done: (err: Error | null, out: Buffer) => void) => void;

/**
 * The decompressor for one content coding, or undefined for one we do not know (the body is left as
 * is, as fetch does). Past `maxOutputLength` it fails with code ERR_BUFFER_TOO_LARGE.
 */
export function contentDecoder(coding: string | undefined): ContentDecoder | undefined {
  switch ((coding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return unzip;
    case 'deflate':
      // zlib-wrapped (what the RFC says) or raw deflate (what some servers send; fetch accepts both).
      return (raw, opts, done) => ((raw[0]! & 0x0f) === 8 ? inflate : inflateRaw)(raw, opts, done);
    case 'br':
      return brotliDecompress;
    default:
      return undefined;
  }
}

/** `raw` decoded by one coding, as a promise; unknown codings leave it as is. */
export function decodeContent(coding: string, raw: Buffer, maxOutputLength: number): Promise<Buffer> {
  const decoder = contentDecoder(coding);
  if (!decoder) return Promise.resolve(raw);
  return new Promise((resolve, reject) => decoder(raw, { maxOutputLength }, (err, out) => (err ? reject(err) : resolve(out))));
}
