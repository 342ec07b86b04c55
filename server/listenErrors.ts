/**
 * The HTTP server could not listen where PORT and HOST say (startWeb). Values env.ts accepts can still
 * fail here: a port another process holds, a HOST that is not an address of this machine. Both entry
 * points (server/index.ts, scripts/start.ts) print the message alone and exit 1: it names the setting
 * to change, as a configuration error does, where Node's own error gave a stack trace and named neither.
 */
export class ListenError extends Error {
  readonly code: string | undefined;
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ListenError';
    this.code = options.code;
  }
}

/** One line naming PORT or HOST and what to set, for the error `server.listen(port, host)` failed with. */
export function listenErrorMessage(err: unknown, at: { host: string; port: number }): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `HOST=${at.host} PORT=${at.port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `Cannot listen on ${where}: PORT ${at.port} is already in use on that address (another process, or another copy of this one). Stop that process or set PORT to a free port.`;
    case 'EACCES':
      return `Cannot listen on ${where}: not permitted (ports below 1024 need privileges this process lacks). Set PORT to 1024 or above.`;
    case 'EADDRNOTAVAIL':
      return `Cannot listen on ${where}: HOST ${at.host} is not an address of this machine. Set HOST to one of its addresses, 0.0.0.0 for all of them, or 127.0.0.1 for this machine only.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return `Cannot listen on ${where}: HOST ${at.host} does not resolve to an address (${code}). Set HOST to an address of this machine, 0.0.0.0 for all of them, or 127.0.0.1 for this machine only.`;
    default: {
      const said = err instanceof Error ? err.message.split('\n').map((line) => line.trim()).filter(Boolean).join(' ') : String(err);
      return `Cannot listen on ${where}: ${said}. Check HOST and PORT.`;
    }
  }
}

/** The ListenError for a failed `listen`, keeping Node's error as its cause. */
export function listenError(err: unknown, at: { host: string; port: number }): ListenError {
  return new ListenError(listenErrorMessage(err, at), { code: (err as NodeJS.ErrnoException | undefined)?.code, cause: err });
}
