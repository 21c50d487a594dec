/**
 * SSM Parameter Store GetParameter (with decryption), sent as the SDK sends it (JSON 1.1,
 * `X-Amz-Target: AmazonSSM.GetParameter`, SigV4 for `ssm`) without the SDK's client: the
 * authorizer reads its key ring with it, and @aws-sdk/client-ssm would add about 200 KB to
 * that bundle for this one call. The CLI reads the same parameter with the same function, so
 * every reader of a stage's signing keys goes through one path. Errors carry the AWS error code
 * as `name` and `$metadata`, as SDK errors do.
 */
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, SourceData } from '@smithy/types';
import { noteFailedCall } from './aws-failure.js';

export interface ParameterRead {
  name: string;
  region: string;
  /** Default: the region's public SSM endpoint. */
  endpoint?: string;
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  timeoutMs?: number;
}

export interface Parameter {
  value: string;
  type?: string;
  version?: number;
}

const bytes = (d: SourceData): Uint8Array | string =>
  typeof d === 'string' ? d : d instanceof Uint8Array ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);

/** SHA-256 as the signer wants it: a hash, or with a key an HMAC (the SDK's @aws-crypto hash does both). */
class Sha256 {
  private readonly h;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData) {
    this.h.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
}

export async function getParameter(opts: ParameterRead): Promise<Parameter> {
  const url = new URL(opts.endpoint ?? `https://ssm.${opts.region}.amazonaws.com`);
  const body = JSON.stringify({ Name: opts.name, WithDecryption: true });
  const signer = new SignatureV4({ credentials: opts.credentials, region: opts.region, service: 'ssm', sha256: Sha256, uriEscapePath: true });
  const path = url.pathname || '/';
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path,
    query: {},
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'content-length': String(Buffer.byteLength(body)), 'x-amz-target': 'AmazonSSM.GetParameter' },
    body,
  });
  const call = { service: 'ssm', operation: 'GetParameter', url: url.href };
  let res: Response;
  try {
    res = await fetch(new URL(path, url), { method: 'POST', headers: signed.headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (err) {
    // fetch reports an unreachable host as TypeError('fetch failed') with the Node error as its cause.
    noteFailedCall(err, call);
    throw err;
  }
  const text = await res.text();
  let parsed: { Parameter?: { Value?: string; Type?: string; Version?: number }; __type?: string; message?: string; Message?: string } = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: reported below with the status
  }
  const $metadata = { httpStatusCode: res.status, requestId: res.headers.get('x-amzn-requestid') ?? undefined };
  if (!res.ok || parsed.Parameter?.Value === undefined) {
    const type = String(parsed.__type ?? (res.ok ? 'InvalidResponse' : `HTTP${res.status}`)).split('#').pop()!;
    const message = parsed.message ?? parsed.Message ?? `SSM GetParameter answered HTTP ${res.status}${parsed.__type ? '' : ' without an AWS error'}`;
    const err = Object.assign(new Error(message), { name: type, $metadata, ...(parsed.__type ? { $fault: res.status >= 500 ? 'server' : 'client' } : {}) });
    noteFailedCall(err, { ...call, statusCode: res.status, headers: Object.fromEntries([...(res.headers as unknown as Iterable<[string, string]>)]) });
    throw err;
  }
  return { value: parsed.Parameter.Value, type: parsed.Parameter.Type, version: parsed.Parameter.Version };
}
