/**
 * Deploy's edges without AWS: AWS failures become one line naming the resource, the action and
 * the fix; flags are checked before any call; the uploaded zip is byte-for-byte stable.
 */
import { describe, it, expect } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deployError, iamAction } from '../src/deploy/errors.js';
import { formatError } from '../src/cli/errors.js';
import { zipBundle, sha256 } from '../src/deploy/bundle.js';
import { cli } from './helpers/cli.js';

const at = { service: 'lambda', action: 'CreateFunction', resource: 'function hermes-dev-connect', region: 'eu-west-1' };
const plain = { red: (s: string) => s, dim: (s: string) => s };
const awsError = (name: string, message: string, extra: object = {}) => Object.assign(new Error(message), { name, ...extra });

describe('deploy errors', () => {
  it('access denied: names the resource, the action and the missing permission', () => {
    const err = deployError(awsError('AccessDeniedException', 'User: arn:aws:iam::1:user/ci is not authorized to perform: lambda:CreateFunction', { $fault: 'client', $metadata: { httpStatusCode: 403, requestId: 'req-1' } }), at);
    const { text, exitCode } = formatError(err, false, plain);
    expect(exitCode).toBe(1);
    const [line, hint, ...rest] = text.split('\n');
    expect(rest).toEqual([]);
    expect(line).toBe('error: Deploy failed at function hermes-dev-connect (lambda CreateFunction): HTTP 403 AccessDeniedException: User: arn:aws:iam::1:user/ci is not authorized to perform: lambda:CreateFunction');
    expect(hint).toMatch(/missing lambda:CreateFunction/);
    expect(err).toMatchObject({ resource: 'function hermes-dev-connect', service: 'lambda', operation: 'CreateFunction', httpStatus: 403, awsCode: 'AccessDeniedException', requestId: 'req-1' });
    expect(formatError(err, true, plain).text).toContain('request id: req-1');
  });

  it('names API Gateway permissions the way IAM spells them', () => {
    expect(iamAction('apigatewayv2', 'CreateRoute')).toBe('apigateway:POST');
    expect(iamAction('apigatewayv2', 'GetApis')).toBe('apigateway:GET');
    expect(iamAction('apigatewayv2', 'UpdateIntegration')).toBe('apigateway:PATCH');
    expect(iamAction('apigatewayv2', 'DeleteApi')).toBe('apigateway:DELETE');
    expect(iamAction('iam', 'PutRolePolicy')).toBe('iam:PutRolePolicy');
  });

  it('expired credentials, unknown region, quota: a hint for each', () => {
    expect(deployError(awsError('ExpiredTokenException', 'The security token included in the request is expired'), at).hint).toMatch(/expired/);
    const dns = awsError('Error', 'getaddrinfo ENOTFOUND lambda.xx-nowhere-1.amazonaws.com', { code: 'ENOTFOUND' });
    expect(deployError(dns, { ...at, region: 'xx-nowhere-1' }).hint).toMatch(/--region/);
    const nested = awsError('TimeoutError', 'socket hang up', { cause: { code: 'ECONNREFUSED' } });
    expect(deployError(nested, { ...at, endpoint: 'http://127.0.0.1:1' }).hint).toMatch(/Nothing answers at http:\/\/127\.0\.0\.1:1/);
    expect(deployError(awsError('LimitExceededException', 'Cannot exceed quota for PoliciesPerRole: 10'), { ...at, service: 'iam', action: 'PutRolePolicy' }).hint).toMatch(/quota/);
    expect(deployError(awsError('CredentialsProviderError', 'Could not load credentials from any providers'), at).hint).toMatch(/aws sso login/);
    expect(deployError(awsError('UnrecognizedClientException', 'The security token included in the request is invalid'), at).hint).toMatch(/credentials/);
    expect(deployError(awsError('ResourceConflictException', 'x'), { ...at, verb: 'Destroy' }).message).toMatch(/^Destroy failed at/);
  });
});

describe('deploy and destroy flags', () => {
  it('refuse the default stage (the local stack)', async () => {
    for (const verb of ['deploy', 'destroy']) {
      const r = await cli([verb, '--region', 'eu-west-1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`hermes ${verb} needs a stage`));
      expect(r.stderr).toMatch(/--stage/);
    }
  });

  it('refuse a malformed region before any AWS call', async () => {
    const r = await cli(['deploy', '--stage', 'dev', '--region', 'Ireland']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid region "Ireland" \(from --region\)/);
  });

  it('an unreachable endpoint: one line naming the resource and the call, one hint', async () => {
    const r = await cli(['destroy', '--stage', 'dev', '--region', 'eu-west-1', '--endpoint-url', 'http://127.0.0.1:1'], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Destroy failed at .* \((dynamodb DescribeTable|sqs GetQueueUrl|iam GetRole|lambda GetFunction|apigatewayv2 GetApis|ssm GetParameter|logs DescribeLogGroups)\): cannot connect to http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/Nothing answers at http:\/\/127\.0\.0\.1:1/);
  });
});

describe('an answer that is not AWS', () => {
  it('an HTML page where AWS should be: says so, with the endpoint and the status; --debug adds the request id and response head', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8', server: 'corporate-proxy' });
      res.end('<!doctype html><title>Not here</title>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await cli(['destroy', '--stage', 'dev', '--region', 'eu-west-1', '--endpoint-url', endpoint], { timeoutMs: 60_000 });
      expect(r.code).toBe(1);
      const [line, hint, ...rest] = r.stderr.trim().split('\n');
      expect(rest).toEqual([]);
      expect(line).toMatch(new RegExp(`^error: Destroy failed at .* \\(\\w+ \\w+\\): ${endpoint.replace(/\./g, '\\.')} answered HTTP 404 with an HTML page, not an AWS API response$`));
      expect(hint).toMatch(/does not implement .* or is not an AWS endpoint: check --endpoint-url/);
      const debug = await cli(['destroy', '--stage', 'dev', '--region', 'eu-west-1', '--endpoint-url', endpoint, '--debug'], { timeoutMs: 60_000 });
      expect(debug.stderr).toContain('request id: (none in the response)');
      expect(debug.stderr).toMatch(/response: HTTP 404; .*content-type: text\/html; charset=utf-8.*server: corporate-proxy/);
      // --json: one object on stdout with the call's fields; the exit code is unchanged.
      const json = await cli(['deploy', '--stage', 'dev', '--region', 'eu-west-1', '--endpoint-url', endpoint, '--no-build', '--json'], { timeoutMs: 60_000 });
      expect(json.code).toBe(1);
      const { error } = JSON.parse(json.stdout) as { error: Record<string, unknown> };
      expect(error).toMatchObject({
        code: 'deploy',
        message: expect.stringContaining('answered HTTP 404 with an HTML page, not an AWS API response'),
        hint: expect.stringMatching(/--endpoint-url/),
        resource: expect.any(String),
        service: expect.stringMatching(/^(dynamodb|sqs|iam|lambda|apigatewayv2)$/),
        operation: expect.any(String),
        httpStatus: 404,
        endpoint,
        notAws: true,
      });
      expect(error.responseHead).toBeUndefined();
      const debugJson = JSON.parse((await cli(['deploy', '--stage', 'dev', '--region', 'eu-west-1', '--endpoint-url', endpoint, '--no-build', '--json', '--debug'], { timeoutMs: 60_000 })).stdout);
      expect(debugJson.error.responseHead).toMatch(/^HTTP 404; /);
    } finally {
      server.close();
    }
  });

  it('an AWS error names the service, the operation, the HTTP status, the code and the request id', () => {
    const err = deployError(
      awsError('ResourceConflictException', 'The operation cannot be performed at this time.', { $fault: 'client', $metadata: { httpStatusCode: 409, requestId: 'abc-123' } }),
      { ...at, action: 'UpdateFunctionCode' },
    );
    expect(err.message).toBe('Deploy failed at function hermes-dev-connect (lambda UpdateFunctionCode): HTTP 409 ResourceConflictException: The operation cannot be performed at this time.');
    expect({ ...err }).toMatchObject({ service: 'lambda', operation: 'UpdateFunctionCode', httpStatus: 409, awsCode: 'ResourceConflictException', requestId: 'abc-123' });
    expect(err.debugDetails()).toEqual(['request id: abc-123']);
  });
});

describe('AWS errors outside deploy', () => {
  it('a failed call of another verb names the service, operation, status and AWS code, as text and as --json fields', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'rid-42' });
      res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ValidationException', message: 'One or more parameter values were invalid' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const env = {};
      const args = ['token', 'list', '--stage', 'local', '--endpoint-url', endpoint];
      const r = await cli(args, { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('error: dynamodb Scan failed: HTTP 400 ValidationException: One or more parameter values were invalid');
      const j = await cli([...args, '--json'], { env });
      expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'aws_error', service: 'dynamodb', operation: 'Scan', httpStatus: 400, awsCode: 'ValidationException', requestId: 'rid-42', endpoint });
    } finally {
      server.close();
    }
  });
});

describe('handler zip', () => {
  it('is deterministic, so CodeSha256 changes only with the code', async () => {
    const a = await zipBundle(Buffer.from('export const handler = async () => 1;\n'));
    await new Promise((r) => setTimeout(r, 1100)); // a different wall-clock second
    const b = await zipBundle(Buffer.from('export const handler = async () => 1;\n'));
    const c = await zipBundle(Buffer.from('export const handler = async () => 2;\n'));
    expect(a.equals(b)).toBe(true);
    expect(sha256(a)).toBe(sha256(b));
    expect(sha256(a)).not.toBe(sha256(c));
    expect(a.subarray(30, 39).toString()).toBe('index.mjs'); // the one entry, at the zip root
  });
});
