/**
 * Operator calls on single connections through the `@connections` management API: probe
 * (GetConnection) and close (DeleteConnection). Errors are recognised by type at this boundary:
 * 410 GoneException means the connection no longer exists; 429 is retried with backoff because
 * the SDK client is built to try once (see clients.ts); anything else goes back to the caller.
 */
import {
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { jitteredDelay, sleep } from './retry.js';

export type ManagementClient = Pick<ApiGatewayManagementApiClient, 'send'>;

type HttpError = { $metadata?: { httpStatusCode?: number } };

export function isGone(err: unknown): boolean {
  // The status is a second check: a proxy in front of the endpoint may answer a bare 410.
  return err instanceof GoneException || (err as HttpError)?.$metadata?.httpStatusCode === 410;
}

export function isThrottled(err: unknown): boolean {
  return err instanceof LimitExceededException || (err as HttpError)?.$metadata?.httpStatusCode === 429;
}

export interface RetryOptions {
  maxRetries?: number;
  sleep?: (ms: number) => Promise<void>;
}

export async function retryThrottled<T>(call: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const maxRetries = opts.maxRetries ?? 5;
  const wait = opts.sleep ?? sleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!isThrottled(err) || attempt >= maxRetries) throw err;
      await wait(jitteredDelay(attempt, 50, 2000));
    }
  }
}

export type Probe =
  | { state: 'live'; connectedAt?: number; lastActiveAt?: number }
  | { state: 'gone' }
  | { state: 'error'; error: string };

export function describeError(err: unknown): string {
  const e = err as Error;
  return e?.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : String(e?.message ?? err);
}

/** GetConnection: is the socket still open, and when did it last carry a frame? Never throws. */
export async function probeConnection(management: ManagementClient, connectionId: string, opts?: RetryOptions): Promise<Probe> {
  try {
    const res = await retryThrottled(() => management.send(new GetConnectionCommand({ ConnectionId: connectionId })), opts);
    return { state: 'live', connectedAt: res.ConnectedAt?.getTime(), lastActiveAt: res.LastActiveAt?.getTime() };
  } catch (err) {
    if (isGone(err)) return { state: 'gone' };
    return { state: 'error', error: describeError(err) };
  }
}

/** DeleteConnection: the gateway closes the socket with 1000 and runs `$disconnect`. */
export async function closeConnection(management: ManagementClient, connectionId: string, opts?: RetryOptions): Promise<'closed' | 'gone'> {
  try {
    await retryThrottled(() => management.send(new DeleteConnectionCommand({ ConnectionId: connectionId })), opts);
    return 'closed';
  } catch (err) {
    if (isGone(err)) return 'gone';
    throw err;
  }
}
