export {
  type ConfigError,
  type ConfigResult,
  formatConfigErrors,
  loadConfigFile,
  type MatchmakerConfig,
  type PoolConfig,
  parseConfig,
} from './config.js';
export {
  ALLOCATION_FAILURES,
  type AllocationFailure,
  planBackfill,
  planMatch,
} from './domain/allocation.js';
export {
  type AssignmentDispatcher,
  type DispatchResult,
  Matchmaker,
  type RoundSummary,
} from './domain/matchmaker.js';
export {
  type MatchFunction,
  type MatchFunctionInput,
  type MatchProposal,
  ruleEngine,
} from './domain/rules.js';
export type * from './domain/types.js';
export { errorBody, MM_ERRORS, type MmErrorCode } from './errors.js';
export { type BuildAppOptions, buildApp, type MatchmakerApp } from './http/app.js';
export { type Principal, signBearerToken } from './http/auth.js';
export { MatchmakerMetrics } from './metrics.js';
export { MemoryStore } from './store/memory.js';
export { RedisStore, type RedisStoreOptions, StoreUnavailableError } from './store/redis.js';
export { RedisReplicaBus, type ReplicaBusStats } from './store/redis-bus.js';
export { parseRedisUrl, type RedisTarget } from './store/redis-url.js';
export type { Store } from './store/store.js';
export { signRoutingToken, verifyRoutingToken } from './tokens/routing-token.js';
