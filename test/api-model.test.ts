/**
 * The request checker of test/helpers/api-model.ts, on requests that AWS would refuse: each
 * deliberately wrong member must be named. (deploy-moto.test.ts runs it on every request a
 * deploy, redeploy, partial failure and destroy send.) Skipped where botocore is missing.
 */
import { describe, it, expect } from 'vitest';
import { botocoreDataDir, violations } from './helpers/api-model.js';

const available = Boolean(botocoreDataDir());
if (!available) console.warn('api-model: python3 with botocore is not installed; skipped the API model checks.');

describe.skipIf(!available)("the API model check", () => {
  it('accepts a well-formed request', () => {
    expect(
      violations({
        service: 'lambda',
        operation: 'CreateFunction',
        input: {
          FunctionName: 'hermes-dev-connect',
          Role: 'arn:aws:iam::123456789012:role/hermes-dev-connect-role',
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          MemorySize: 256,
          Timeout: 10,
          Code: { ZipFile: Buffer.from('PK') },
          Architectures: ['arm64'],
          Environment: { Variables: { HERMES_STAGE: 'dev' } },
        },
      }),
    ).toEqual([]);
  });

  it('names a bad enum value, a value below its minimum, a pattern mismatch, a missing required member and an unknown member', () => {
    const found = violations({
      service: 'lambda',
      operation: 'CreateFunction',
      input: { FunctionName: 'hermes dev connect', Runtime: 'nodejs99.x', Handler: 'index.handler', MemorySize: 64, Code: { ZipFile: Buffer.from('PK') }, Memory: 256 },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'lambda CreateFunction: required member Role is missing',
        expect.stringMatching(/^lambda CreateFunction: unknown member Memory /),
        expect.stringMatching(/^lambda CreateFunction\.FunctionName: "hermes dev connect" does not match /),
        expect.stringMatching(/^lambda CreateFunction\.Runtime: "nodejs99\.x" is not one of .*nodejs22\.x/),
        'lambda CreateFunction.MemorySize: value 64 is below the minimum 128',
      ]),
    );
    expect(found).toHaveLength(5);
  });

  it('checks map keys, list lengths, nested structures, lengths and types across services', () => {
    expect(violations({ service: 'sqs', operation: 'CreateQueue', input: { QueueName: 'q', Attributes: { VisibilityTimout: '30' } } })).toEqual([
      expect.stringMatching(/^sqs CreateQueue\.Attributes key "VisibilityTimout": "VisibilityTimout" is not one of /),
    ]);
    expect(violations({ service: 'iam', operation: 'CreateRole', input: { RoleName: 'r'.repeat(65), AssumeRolePolicyDocument: '{}' } })).toEqual([
      'iam CreateRole.RoleName: length 65 is above the maximum 64',
    ]);
    expect(violations({ service: 'apigatewayv2', operation: 'CreateRoute', input: { ApiId: 'a1', Target: 'integrations/x' } })).toEqual([
      'apigatewayv2 CreateRoute: required member RouteKey is missing',
    ]);
    expect(
      violations({ service: 'dynamodb', operation: 'CreateTable', input: { TableName: 't', BillingMode: 'ON_DEMAND', KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], AttributeDefinitions: [] } }),
    ).toEqual([expect.stringMatching(/^dynamodb CreateTable\.BillingMode: "ON_DEMAND" is not one of PROVISIONED, PAY_PER_REQUEST/)]);
    expect(violations({ service: 'lambda', operation: 'CreateEventSourceMapping', input: { FunctionName: 'f', BatchSize: '10' } })).toEqual([
      'lambda CreateEventSourceMapping.BatchSize: expected a whole number, got "10"',
    ]);
    expect(violations({ service: 'lambda', operation: 'NoSuchThing', input: {} })).toEqual(['lambda NoSuchThing: no such operation in the model']);
  });
});
