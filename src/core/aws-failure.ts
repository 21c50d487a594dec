/**
 * What happened on the wire when an AWS call failed, for error messages a user can act on:
 * the service and operation, where the request went, the HTTP status, AWS's own error code and
 * request id, and whether the answer came from AWS at all (an HTML page from a proxy, a wrong
 * endpoint, an operation an emulator lacks is not an AWS error document). A middleware on each
 * client (`recordFailedCalls`) keeps this on the error it fails with; `failedCall` reads it.
 */

const CALL = Symbol.for('hermes.failedCall');

export interface Exchange {
  service: string;
  operation: string;
  url?: string;
  statusCode?: number;
  headers?: Record<string, string>;
}

export interface FailedCall {
  /** The AWS CLI's name for the service (lambda, apigatewayv2, dynamodb, sqs, …), when recorded. */
  service?: string;
  operation?: string;
  /** Scheme, host and port the request went to. */
  endpoint?: string;
  httpStatus?: number;
  /** AWS's error code; absent when the answer was not AWS's. */
  awsCode?: string;
  requestId?: string;
  /** Something other than AWS answered: the SDK could not read an AWS error from the body. */
  notAws: boolean;
  /** What the answer was, when not AWS's: "an HTML page", … */
  answer?: string;
  /** The raw status line and headers, for --debug. */
  responseHead?: string;
}

interface SdkError {
  name?: string;
  message?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $response?: { statusCode?: number; headers?: Record<string, string> };
  [CALL]?: Exchange;
}

type Next = (args: { request?: unknown }) => Promise<{ response?: unknown }>;
type Stack = { add(mw: (next: Next, context: Record<string | symbol, unknown>) => Next, opts: object): void };

/**
 * Two middlewares share the command's context: the inner one, just above the HTTP handler,
 * notes the URL, status and headers of each attempt; the outer one puts the last of them on
 * the error the command fails with. Nothing is kept for a success.
 */
export function recordFailedCalls(client: { middlewareStack: unknown }, service: string): void {
  const stack = client.middlewareStack as Stack;
  stack.add(
    (next, context) => async (args) => {
      const req = args.request as { protocol?: string; hostname?: string; port?: number; path?: string } | undefined;
      const url = req?.hostname ? `${req.protocol ?? 'https:'}//${req.hostname}${req.port ? `:${req.port}` : ''}${req.path ?? ''}` : undefined;
      const exchange: Exchange = { service, operation: String(context.commandName ?? '').replace(/Command$/, ''), url };
      context[CALL] = exchange;
      const out = await next(args);
      const res = out.response as { statusCode?: number; headers?: Record<string, string> } | undefined;
      exchange.statusCode = res?.statusCode;
      exchange.headers = res?.headers;
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'hermesRecordExchange' },
  );
  stack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        const exchange = (context[CALL] as Exchange | undefined) ?? { service, operation: String(context.commandName ?? '').replace(/Command$/, '') };
        if (err && typeof err === 'object' && !(CALL in err)) Object.defineProperty(err, CALL, { value: exchange, enumerable: false });
        throw err;
      }
    },
    { step: 'initialize', priority: 'high', name: 'hermesRecordFailedCall' },
  );
}

/** For calls made without an SDK client (core/ssm-parameter.ts): the same record on the error. */
export function noteFailedCall(err: unknown, call: Exchange): void {
  if (err && typeof err === 'object' && !(CALL in err)) Object.defineProperty(err, CALL, { value: call, enumerable: false });
}

const origin = (url: string | undefined) => {
  try {
    return url ? new URL(url).origin : undefined;
  } catch {
    return undefined;
  }
};

/** An error the SDK raised for an AWS call (as opposed to a bug or a network failure). */
export function isAwsCallError(err: unknown): boolean {
  const e = err as SdkError | undefined;
  return Boolean(e && typeof e === 'object' && (e.$fault || e.$metadata?.httpStatusCode || CALL in e));
}

export function failedCall(err: unknown): FailedCall {
  const e = (err ?? {}) as SdkError;
  const x = e[CALL];
  const statusCode = x?.statusCode ?? e.$response?.statusCode ?? e.$metadata?.httpStatusCode;
  const headers = x?.headers ?? e.$response?.headers;
  const type = headers?.['content-type'] ?? '';
  // AWS's own errors carry $fault (client or server) from the SDK's error parser.
  const notAws = !e.$fault && Boolean(statusCode) && (/html/i.test(type) || e.name === 'SyntaxError' || /Deserialization error/.test(e.message ?? ''));
  const head = statusCode && headers ? [`HTTP ${statusCode}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('; ') : undefined;
  return {
    ...(x ? { service: x.service, operation: x.operation } : {}),
    endpoint: origin(x?.url),
    httpStatus: statusCode,
    awsCode: notAws ? undefined : e.name,
    requestId: e.$metadata?.requestId ?? headers?.['x-amzn-requestid'] ?? headers?.['x-amz-request-id'],
    notAws,
    ...(notAws ? { answer: /html/i.test(type) ? 'an HTML page' : `a body that is not an AWS response${type ? ` (${type})` : ''}` } : {}),
    responseHead: head,
  };
}

/** "HTTP 403 AccessDeniedException: …", or "<endpoint> answered HTTP 404 with an HTML page, not an AWS API response". */
export function failureText(err: unknown, f: FailedCall = failedCall(err)): string {
  if (f.notAws) return `${f.endpoint ?? 'the endpoint'} answered HTTP ${f.httpStatus} with ${f.answer}, not an AWS API response`;
  const e = err as SdkError;
  const name = e?.name ?? 'Error';
  const message = (e?.message || name).split('\n')[0];
  return `${f.httpStatus ? `HTTP ${f.httpStatus} ` : ''}${name}: ${message}`;
}
