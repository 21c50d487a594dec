/**
 * ARNs and URLs of a stage's resources, computed from the few ids AWS assigns (account, API
 * id, queue URLs). Before the first deploy those ids are unknown; placeholders stand in, so a
 * dry run can still show the whole plan.
 */
import type { ResourceNames } from '../stack/names.js';
import type { HandlerName } from '../stack/definition.js';

export interface KnownIds {
  region: string;
  partition: string;
  account?: string;
  apiId?: string;
  /** Host of the API's endpoint, e.g. abc123.execute-api.eu-west-1.amazonaws.com. */
  apiHost?: string;
  queueUrl?: string;
  dlqUrl?: string;
}

export const PLACEHOLDER = { account: '<account>', apiId: '<api-id>', queueUrl: '<queue-url>', dlqUrl: '<dlq-url>' } as const;

/** The partition and account of an ARN: `arn:aws:dynamodb:us-east-1:123456789012:table/x`. */
export function parseArn(arn: string | undefined): { partition: string; account: string } | undefined {
  const m = /^arn:([^:]+):[^:]*:[^:]*:(\d{12}):/.exec(arn ?? '');
  return m ? { partition: m[1], account: m[2] } : undefined;
}

export function arnsFor(names: ResourceNames, ids: KnownIds) {
  const { region, partition: p } = ids;
  const account = ids.account ?? PLACEHOLDER.account;
  const apiId = ids.apiId ?? PLACEHOLDER.apiId;
  const apiHost = ids.apiHost ?? `${apiId}.execute-api.${region}.amazonaws.com`;
  const table = (name: string) => `arn:${p}:dynamodb:${region}:${account}:table/${name}`;
  const fn = (h: HandlerName) => `arn:${p}:lambda:${region}:${account}:function:${names.fn(h)}`;
  return {
    table,
    index: (tableName: string, index: string) => `${table(tableName)}/index/${index}`,
    queue: (name: string) => `arn:${p}:sqs:${region}:${account}:${name}`,
    role: (h: HandlerName) => `arn:${p}:iam::${account}:role/${names.role(h)}`,
    fn,
    logGroup: (h: HandlerName) => `arn:${p}:logs:${region}:${account}:log-group:${names.logGroup(h)}`,
    logGroupByName: (name: string) => `arn:${p}:logs:${region}:${account}:log-group:${name}`,
    /** An SSM parameter by its name (which starts with a slash). */
    parameter: (name: string) => `arn:${p}:ssm:${region}:${account}:parameter${name}`,
    /** What API Gateway calls to reach a function (integrations and authorizers). */
    invokeUri: (h: HandlerName) => `arn:${p}:apigateway:${region}:lambda:path/2015-03-31/functions/${fn(h)}/invocations`,
    /** Any route, stage and method of this API: who may invoke the functions. */
    apiSource: `arn:${p}:execute-api:${region}:${account}:${apiId}/*`,
    /** POSTs to @connections on this API's stage, the only management call the handlers make. */
    manageConnections: `arn:${p}:execute-api:${region}:${account}:${apiId}/${names.stage}/POST/@connections/*`,
    apiResource: `arn:${p}:apigateway:${region}::/apis/${apiId}`,
    websocketUrl: `wss://${apiHost}/${names.stage}`,
    managementEndpoint: `https://${apiHost}/${names.stage}`,
    queueUrl: ids.queueUrl ?? PLACEHOLDER.queueUrl,
    dlqUrl: ids.dlqUrl ?? PLACEHOLDER.dlqUrl,
  };
}

export type StageArns = ReturnType<typeof arnsFor>;
