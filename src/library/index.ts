/**
 * `import { openStage } from 'hermes'`: what a Node backend needs of hermes, without the CLI
 * (no commander, prompts or colours are loaded). See docs/library.md.
 *
 *   const hermes = openStage({ stage: 'prod' });          // resolved as `hermes --stage prod` does
 *   const { token } = await hermes.issueToken({ userId: 'alice', roomId: 'ops' });
 *   await hermes.publish({ room_id: 'ops', data: { type: 'alert', data: 'Disk almost full' } });
 */
export { openStage, type HermesStage, type StageOptions, type PublishMessage, type VerifiedToken, type TokenInfo } from './stage.js';
export type { StageClients } from '../config/stage-access.js';
export { resolveConfig, type ConfigFlags, type HermesConfig } from '../config/resolve.js';
export type { IssuedToken } from '../core/tokens.js';
export type { PublishResult } from '../core/publish.js';
export type { Frame, ErrorFrame } from '../../client/protocol.js';
export {
  HermesError, UsageError, InvalidInputError, LimitError, TokenRefusedError, StackNotRunningError, type TokenRefusal,
} from '../core/errors.js';
