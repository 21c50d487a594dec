/**
 * A stage, for a Node backend: mint and check the tokens its pages connect with, and publish
 * messages to its rooms. The stage is resolved exactly as `hermes` resolves it (src/config:
 * options > environment > hermes.config.json > the record `hermes dev` or deploy wrote), and
 * reached with the same clients (src/config/stage-access.ts), which the caller may pass in.
 */
import { resolveConfig, type ConfigFlags, type HermesConfig } from '../config/resolve.js';
import { stageAccess, type StageAccessOptions } from '../config/stage-access.js';
import { InvalidInputError, MalformedMessageError } from '../core/errors.js';
import { parseQueueMessage, type QueueMessage } from '../core/envelope.js';
import { publish as publishMessages, type PublishResult } from '../core/publish.js';
import {
  checkTokenRoom, issueToken, listTokens, revokeToken, revokeUserTokens, verifyToken, type IssuedToken,
} from '../core/tokens.js';

export interface StageOptions extends ConfigFlags, StageAccessOptions {
  /** Where HERMES_* and AWS_* settings are read; default process.env. */
  env?: Record<string, string | undefined>;
  /** Where hermes.config.json and the state dir are looked for; default process.cwd(). */
  cwd?: string;
}

/**
 * A message as the queue carries it (the documented queue format): `room_id` (or `to_user_id`,
 * every connection of one user) and `data`, and
 * optionally `user_id` (the sender, shown to clients) and `id` (the frame id clients
 * deduplicate by). The fields are the envelope's (src/core/envelope.ts), so a field the envelope
 * gains is one a backend can send.
 */
export type PublishMessage = Omit<QueueMessage, 'shard'>;

/** What a valid token says, without its secret. */
export interface VerifiedToken {
  tokenId: string;
  userId: string;
  roomId: string;
  issuedAt: number;
  expiresAt: number;
}

export type TokenInfo = VerifiedToken;

export interface HermesStage {
  /** The stage's name, region and whether `hermes dev` serves it. */
  readonly stage: string;
  readonly region: string;
  readonly local: boolean;
  /** Where browsers connect (`wss://…/<stage>`, `ws://127.0.0.1:3001/local`), when known. */
  readonly websocketUrl: string | undefined;
  /** Every resolved setting, with where it came from (as `hermes config show` prints it). */
  readonly config: HermesConfig;
  /** A token for `userId` to join `roomId`; default lifetime 1 hour, at most 30 days. */
  issueToken(input: { userId: string; roomId: string; ttlSeconds?: number }): Promise<IssuedToken>;
  /**
   * Check a token as the authorizer does (signature, expiry, revocation, its stored hash) and,
   * with `roomId`, that it is for that room. Throws TokenRefusedError with a `reason`.
   */
  verifyToken(token: string, opts?: { roomId?: string }): Promise<VerifiedToken>;
  /** Revoke one token; false when the user has no such token. */
  revokeToken(userId: string, tokenId: string): Promise<boolean>;
  /** Revoke all of a user's tokens, or those for one room; the revoked ids. */
  revokeUserTokens(userId: string, opts?: { roomId?: string }): Promise<string[]>;
  /** Live tokens (never their secrets), of one user or of everyone. */
  listTokens(opts?: { userId?: string }): Promise<TokenInfo[]>;
  /**
   * Put messages on the stage's queue; send-message delivers each to every connection of its
   * room. Every message is checked before the first is sent (a malformed one throws
   * InvalidInputError naming it; one over a size limit, LimitError); an entry the queue
   * refuses is reported in `failed`, never dropped.
   */
  publish(messages: PublishMessage | PublishMessage[]): Promise<PublishResult>;
  /** Release the clients this stage built (not those passed in). */
  close(): void;
}

/** Resolve a stage as the CLI does and get what a backend needs of it. Nothing connects until used. */
export function openStage(opts: StageOptions = {}): HermesStage {
  const { env = process.env, cwd = process.cwd(), clients, credentials, ...flags } = opts;
  const config = resolveConfig(flags, env, cwd);
  const access = stageAccess(() => config, { clients, credentials });
  const store = async () => ({ ddb: await access.ddb(), table: config.names.tokensTable });
  const camel = (r: { token_id: string; user_id: string; room_id: string; issued_at: number; expires_at: number }): VerifiedToken => ({
    tokenId: r.token_id,
    userId: r.user_id,
    roomId: r.room_id,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
  });

  return {
    stage: config.stage.value,
    region: config.region.value,
    local: config.local,
    websocketUrl: config.endpoints.websocket.value,
    config,
    async issueToken(input) {
      return issueToken({ ...(await store()), secret: await access.jwtSecret(), bcryptCost: config.bcryptCost.value }, input);
    },
    async verifyToken(token, o = {}) {
      const claims = await verifyToken({ ...(await store()), secret: await access.jwtSecret() }, token);
      checkTokenRoom(claims, o.roomId);
      return camel({ token_id: claims.jti, user_id: claims.user_id, room_id: claims.room_id, issued_at: claims.iat, expires_at: claims.exp });
    },
    async revokeToken(userId, tokenId) {
      return revokeToken(await store(), userId, tokenId);
    },
    async revokeUserTokens(userId, o = {}) {
      return revokeUserTokens(await store(), userId, o.roomId);
    },
    async listTokens(o = {}) {
      return (await listTokens(await store(), { userId: o.userId })).map(camel);
    },
    async publish(input) {
      const messages = Array.isArray(input) ? input : [input];
      if (messages.length === 0) throw new InvalidInputError('messages', 'There is nothing to publish: the list of messages is empty.');
      // The handler's own reading of a queue message: what passes here is never dropped there.
      messages.forEach((m, i) => {
        try {
          parseQueueMessage(JSON.stringify(m));
        } catch (err) {
          if (!(err instanceof MalformedMessageError)) throw err;
          throw new InvalidInputError(`messages[${i}]`, `Message ${i} cannot be published: ${err.message}`);
        }
        if ((m as QueueMessage).shard !== undefined) throw new InvalidInputError(`messages[${i}]`, `Message ${i} has a "shard": only send-message splits a delivery.`);
      });
      return publishMessages({ sqs: await access.sqs(), queueUrl: access.queueUrl() }, messages);
    },
    close: access.close,
  };
}
