/**
 * The REQUEST authorizer on `$connect` (docs/api-gateway-websocket.md §2): identity-source checks,
 * the authorizer event, and how API Gateway judges the authorizer's answer. Pure functions; the
 * gateway does the invoking.
 */
import { requestContext, type ApiInfo, type ConnectionInfo, type Handshake } from './gateway-events.js';

/** Authorizer results are capped at 8 KB (§2.3, DOC QUOTA). */
const MAX_RESULT_BYTES = 8192;

export interface IdentitySource {
  /** As configured, for messages. */
  expression: string;
  kind: 'querystring' | 'header';
  name: string;
}

/**
 * Parses `route.request.querystring.token` / `route.request.header.Auth` (the WebSocket form,
 * §2.2) and the HTTP-API form `$request.querystring.token`. Other sources (stage variables,
 * context) are not supported by the emulator and are refused at start-up.
 */
export function parseIdentitySource(expression: string): IdentitySource {
  const match = /^(?:route\.request|\$request)\.(querystring|header)\.(.+)$/.exec(expression);
  if (!match) {
    throw new Error(
      `Unsupported identity source "${expression}": use route.request.querystring.<name> or route.request.header.<name>.`,
    );
  }
  return { expression, kind: match[1] as IdentitySource['kind'], name: match[2] };
}

/** The first identity source that is missing or empty, or undefined when all are there (§2.2). */
export function missingIdentitySource(
  sources: IdentitySource[],
  hs: Handshake,
  lowerCaseHeaders: Record<string, string | string[] | undefined>,
): IdentitySource | undefined {
  for (const source of sources) {
    const value =
      source.kind === 'querystring'
        ? hs.query?.single[source.name]
        : lowerCaseHeaders[source.name.toLowerCase()];
    if (value === undefined || value === '' || (Array.isArray(value) && value.every((v) => v === ''))) {
      return source;
    }
  }
  return undefined;
}

/** `methodArn` has no HTTP verb for WebSocket APIs (§2.1). */
export function connectMethodArn(region: string, accountId: string, api: ApiInfo): string {
  return `arn:aws:execute-api:${region}:${accountId}:${api.apiId}/${api.stage}/$connect`;
}

/** The REQUEST authorizer event (§2.1). It already carries the future connection id. */
export function authorizerEvent(
  api: ApiInfo,
  conn: ConnectionInfo,
  hs: Handshake,
  methodArn: string,
  requestId: string,
): Record<string, unknown> {
  return {
    type: 'REQUEST',
    methodArn,
    headers: hs.headers,
    multiValueHeaders: hs.multiValueHeaders,
    // The AWS example always has both query objects; with no query string we send empty
    // objects here (unverified), unlike the CONNECT event where they are absent (§1.2).
    queryStringParameters: hs.query?.single ?? {},
    multiValueQueryStringParameters: hs.query?.multi ?? {},
    stageVariables: {},
    requestContext: requestContext(api, { ...conn, authorizer: undefined }, '$connect', 'CONNECT', requestId),
  };
}

export type AuthorizerVerdict =
  | { allowed: true; authorizer: Record<string, string> }
  | { allowed: false; status: 401 | 403 | 500; why: string };

/**
 * What the client sees when the authorizer throws (§2.4): the exact error "Unauthorized" is
 * a 401, anything else a 500.
 */
export function verdictForError(err: unknown): AuthorizerVerdict {
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : undefined;
  if (message === 'Unauthorized') return { allowed: false, status: 401, why: 'authorizer said Unauthorized' };
  return { allowed: false, status: 500, why: `authorizer failed: ${message ?? String(err)}` };
}

/**
 * Judges an authorizer's result (§2.3, §2.4): malformed → 500; an explicit Deny or no Allow
 * whose Resource matches the methodArn → 403; otherwise allowed, with `principalId` and the
 * context values stringified for `requestContext.authorizer`.
 */
export function verdictForResult(result: unknown, methodArn: string): AuthorizerVerdict {
  const malformed = (why: string): AuthorizerVerdict => ({ allowed: false, status: 500, why: `malformed authorizer result: ${why}` });
  if (result === null || typeof result !== 'object') return malformed('not an object');
  const { principalId, policyDocument, context } = result as Record<string, unknown>;
  if (principalId === undefined || principalId === null || typeof principalId === 'object') {
    return malformed('principalId is missing');
  }
  if (policyDocument === null || typeof policyDocument !== 'object') return malformed('policyDocument is missing');
  const raw = (policyDocument as Record<string, unknown>).Statement;
  const statements = Array.isArray(raw) ? raw : raw !== null && typeof raw === 'object' ? [raw] : undefined;
  if (!statements) return malformed('policyDocument.Statement is missing');

  const authorizer: Record<string, string> = { principalId: String(principalId) };
  if (context !== undefined && context !== null) {
    if (typeof context !== 'object' || Array.isArray(context)) return malformed('context is not an object');
    for (const [key, value] of Object.entries(context)) {
      if (value === undefined) continue; // dropped by the runtime's JSON serialization anyway
      // Only string, number and boolean are allowed (§2.3); null is not one of them either.
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        return malformed(`context.${key} is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object'}`);
      }
      authorizer[key] = String(value); // treated as strings, §2.4
    }
  }
  if (Buffer.byteLength(JSON.stringify(result)) > MAX_RESULT_BYTES) return malformed('larger than 8 KB');

  let allowed = false;
  for (const statement of statements) {
    if (statement === null || typeof statement !== 'object') return malformed('a Statement is not an object');
    const { Effect, Action, Resource } = statement as Record<string, unknown>;
    if ((Effect !== 'Allow' && Effect !== 'Deny') || !isPatternList(Action) || !isPatternList(Resource)) {
      return malformed('a Statement needs Effect, Action and Resource');
    }
    const applies = matchesAny(Action, 'execute-api:Invoke', true) && matchesAny(Resource, methodArn, false);
    if (!applies) continue;
    // IAM: an explicit Deny wins over any Allow.
    if (Effect === 'Deny') return { allowed: false, status: 403, why: 'policy denies $connect' };
    allowed = true;
  }
  if (!allowed) return { allowed: false, status: 403, why: `no Allow statement matches ${methodArn}` };
  return { allowed: true, authorizer };
}

function isPatternList(value: unknown): value is string | string[] {
  return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
}

const patternCache = new Map<string, RegExp>();

/** IAM wildcards: `*` is any run of characters, `?` any single one. Actions ignore case. */
function matchesAny(patterns: string | string[], value: string, ignoreCase: boolean): boolean {
  for (const pattern of typeof patterns === 'string' ? [patterns] : patterns) {
    const cacheKey = `${ignoreCase ? 'i' : 's'}${pattern}`;
    let re = patternCache.get(cacheKey);
    if (!re) {
      const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
      re = new RegExp(`^${body}$`, ignoreCase ? 'is' : 's');
      if (patternCache.size < 1000) patternCache.set(cacheKey, re);
    }
    if (re.test(value)) return true;
  }
  return false;
}
