/** Binding a local server to its port, with an error that says which service and port, not a raw EADDRINUSE. */
import type { Server } from 'node:net';
import { HermesError } from '../core/errors.js';

/** A local service could not listen; `code` is the system's (EADDRINUSE, EACCES, …). */
export class ListenError extends HermesError {
  override name = 'ListenError';
  constructor(
    readonly code: string,
    readonly service: string,
    readonly host: string,
    readonly port: number,
    flag: string,
    cause?: Error,
  ) {
    super(
      code === 'EADDRINUSE'
        ? `Port ${port} on ${host} (${service}) is already in use.`
        : `The ${service} cannot listen on ${host}:${port}: ${cause?.message ?? code}.`,
      { hint: `Stop whatever uses it, or choose another port with ${flag} (0 picks a free one).`, cause },
    );
  }
}

export function bindPort(server: Server, port: number, host: string, service: string, flag: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(new ListenError(err.code ?? 'UNKNOWN', service, host, port, flag, err));
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
