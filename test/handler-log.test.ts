/**
 * The handlers' logs: one JSON object per line with level, message, timestamp, the function's
 * name and the invocation's request id (Powertools Logger), going to the destination the local
 * runtime gives each function, and shown readably by the local stack.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';
import { loadFunction } from '../src/local/lambda-runtime.js';
import { readableHandlerLine } from '../src/local/handler-log-lines.js';
import { createHandler as createSendMessageHandler } from '../lambdas/send-message.js';

type Captured = Array<{ level: 'info' | 'warn' | 'error'; line: string }>;
function capture(): { lines: Captured; logger: { info(l: string): void; warn(l: string): void; error(l: string): void } } {
  const lines: Captured = [];
  return {
    lines,
    logger: {
      info: (line) => lines.push({ level: 'info', line }),
      warn: (line) => lines.push({ level: 'warn', line }),
      error: (line) => lines.push({ level: 'error', line }),
    },
  };
}

function sqsRecord(body: string, messageId: string): SQSRecord {
  return {
    messageId, receiptHandle: `rh-${messageId}`, body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1', SenderId: 'x', ApproximateFirstReceiveTimestamp: '1' },
    messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:q', awsRegion: 'us-east-1',
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function context(functionName: string, awsRequestId: string): Context {
  return {
    functionName, functionVersion: '$LATEST', invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256', awsRequestId, logGroupName: `/aws/lambda/${functionName}`, logStreamName: 'test',
    callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 10_000, done: () => {}, fail: () => {}, succeed: () => {},
  };
}

describe('handler logs', () => {
  const sqsMock = mockClient(SQSClient);
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  beforeEach(() => sqsMock.reset());

  it('writes one JSON object per line with the request id the runtime gave the invocation', async () => {
    // Prepare: the built authorizer bundle, as the local stack loads it, without a secret (it logs an error).
    const { lines, logger } = capture();
    const fn = await loadFunction('authorizer', {
      functionName: 'hermes-logtest-authorizer', env: { HERMES_STAGE: 'logtest', AWS_REGION: 'us-east-1' }, logger, timeoutMs: 5_000, region: 'us-east-1',
    });
    const event = { type: 'REQUEST', methodArn: 'arn:aws:execute-api:us-east-1:123456789012:api/local/$connect', queryStringParameters: { token: 'x' } };

    // Act: two invocations
    await expect(fn.invoke(event)).rejects.toThrow('Unauthorized');
    await expect(fn.invoke(event)).rejects.toThrow('Unauthorized');

    // Assess
    expect(lines.map((l) => l.level)).toEqual(['error', 'error']);
    const [first, second] = lines.map((l) => JSON.parse(l.line) as Record<string, unknown>);
    expect(first).toMatchObject({
      level: 'ERROR',
      message: 'HERMES_SIGNING_KEYS_PARAMETER is not configured; refusing every connection',
      service: 'hermes',
      function_name: 'hermes-logtest-authorizer',
      function_arn: 'arn:aws:lambda:us-east-1:123456789012:function:hermes-logtest-authorizer',
    });
    expect(Date.parse(first.timestamp as string)).not.toBeNaN();
    expect(first.function_request_id).toMatch(UUID);
    expect(second.function_request_id).toMatch(UUID);
    expect(second.function_request_id).not.toBe(first.function_request_id);
    expect(lines.every((l) => !l.line.includes('\n'))).toBe(true);
  });

  it('keeps each concurrent invocation\'s request id and keys on its own lines', async () => {
    // Prepare: moving a malformed record to the DLQ fails, for the first invocation last, so
    // the two invocations of one handler instance overlap (the local stack runs them so).
    sqsMock.on(SendMessageCommand).callsFake(async (input) => {
      await new Promise((r) => setTimeout(r, input.MessageBody === 'first' ? 50 : 5));
      throw Object.assign(new Error('queue unavailable'), { name: 'ServiceUnavailable' });
    });
    const { lines, logger } = capture();
    const handler = createSendMessageHandler(
      { HERMES_MANAGEMENT_ENDPOINT: 'http://127.0.0.1:1/local', HERMES_DLQ_URL: 'http://127.0.0.1:1/123456789012/dlq' },
      { logger, sqs },
    );

    // Act
    const responses = await Promise.all([
      handler({ Records: [sqsRecord('first', 'msg-a')] }, context('hermes-local-send-message', 'request-a')),
      handler({ Records: [sqsRecord('second', 'msg-b')] }, context('hermes-local-send-message', 'request-b')),
    ]);

    // Assess: not moved, so failed; every line names its own invocation and record.
    expect(responses).toEqual([{ batchItemFailures: [{ itemIdentifier: 'msg-a' }] }, { batchItemFailures: [{ itemIdentifier: 'msg-b' }] }]);
    const entries = lines.map((l) => JSON.parse(l.line) as Record<string, unknown>);
    expect(entries.map((e) => [e.function_request_id, e.messageId, e.level, e.message]).sort()).toEqual([
      ['request-a', 'msg-a', 'ERROR', 'could not move message to the dead-letter queue'],
      ['request-a', 'msg-a', 'WARN', 'malformed message'],
      ['request-b', 'msg-b', 'ERROR', 'could not move message to the dead-letter queue'],
      ['request-b', 'msg-b', 'WARN', 'malformed message'],
    ]);
  });

  it('is shown readably by the local stack: message, keys, short request id', () => {
    const line = JSON.stringify({
      level: 'WARN', message: 'delivered', timestamp: '2026-01-01T00:00:00.000Z', service: 'hermes', cold_start: false,
      function_name: 'hermes-local-send-message', function_request_id: '3f2a9c1e-0000-4000-8000-000000000000', sampling_rate: 0,
      messageId: 'm-1', room: 'lobby', failed: 1, firstFailure: { connectionId: 'c=1', error: 'socket hang up' },
    });
    expect(readableHandlerLine('send-message', line)).toBe(
      '[send-message] delivered messageId=m-1 room=lobby failed=1 firstFailure={"connectionId":"c=1","error":"socket hang up"} (request 3f2a9c1e)',
    );
    expect(readableHandlerLine('default', 'not json at all')).toBe('[default] not json at all');
  });
});
