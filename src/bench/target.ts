/**
 * What a bench runs against. The hermes target is the same code path for the local stack and
 * a deployed stage: tokens minted through the core into the stage's tokens table, listeners on
 * the stage's WebSocket URL, messages published to the stage's queue.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { issueToken } from '../core/tokens.js';
import { publish } from '../core/publish.js';
import type { PublishFn } from './round.js';
import type { SigningKey } from '../core/signing-keys.js';

export interface BenchTarget {
  /** Shown in the report, e.g. "local stack (in-process)". */
  name: string;
  /** The URL one listener of `room` connects to, credentials included. */
  listenerUrl(room: string): Promise<string>;
  publish: PublishFn;
  /** Things the reader of the figures should know (how tokens were minted, …). */
  notes: string[];
}

export interface HermesStage {
  websocketUrl: string;
  ddb: DynamoDBDocumentClient;
  sqs: Pick<SQSClient, 'send'>;
  queueUrl: string;
  tokensTable: string;
  /** The key tokens are signed with (the stage's current one). */
  signingKey: SigningKey;
}

/** Cost of the bench tokens' bcrypt hashes; the authorizer checks each at its own cost. */
export const BENCH_BCRYPT_COST = 4;
export const BENCH_USER = 'hermes-bench';

export function hermesTarget(name: string, stage: HermesStage): BenchTarget {
  // One token per room, shared by all the room's listeners: a token may open several
  // connections (tabs, devices), and minting one per listener would measure bcrypt, not fan-out.
  const tokens = new Map<string, Promise<string>>();
  const tokenFor = (room: string) => {
    let t = tokens.get(room);
    if (!t) {
      t = issueToken(
        { ddb: stage.ddb, table: stage.tokensTable, signingKey: stage.signingKey, bcryptCost: BENCH_BCRYPT_COST },
        { userId: BENCH_USER, roomId: room, ttlSeconds: 2 * 3600 },
      ).then((issued) => issued.token);
      tokens.set(room, t);
      t.catch(() => tokens.delete(room));
    }
    return t;
  };
  return {
    name,
    async listenerUrl(room) {
      return `${stage.websocketUrl}?token=${encodeURIComponent(await tokenFor(room))}`;
    },
    async publish(messages) {
      const res = await publish({ sqs: stage.sqs, queueUrl: stage.queueUrl }, messages);
      return { failed: res.failed.map((f) => f.index) };
    },
    notes: [
      `Tokens: one per room, shared by that room's listeners, minted through the core with bcrypt cost ${BENCH_BCRYPT_COST}; ` +
        'the authorizer still verifies every connect (signature, stored row, bcrypt at the token\'s own cost), so only bench tokens are cheaper to check.',
    ],
  };
}
