export {
  createClient,
  type ClientOptions,
  type KeywardClient,
  type LoginOptions,
  type LoginResult,
  type MfaAnswer,
  type MfaChallenge,
  type User,
} from './client.js';
export { KeywardError } from './errors.js';
export type { Session } from './session-store.js';
