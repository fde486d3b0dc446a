export { buildAdminApp, redactConfig } from './admin.js';
export { HELP, main, type RunningProxy } from './cli.js';
export {
  type ConfigError,
  ConfigSchema,
  formatConfigErrors,
  type ListenerConfig,
  type PodConfig,
  type ProxyConfig,
  parseConfig,
  readConfigFile,
} from './config.js';
export { FLOW_DROP_REASONS, type FlowDropReason } from './decide.js';
export { PROXY_ERRORS, ProxyError, type ProxyErrorCode } from './errors.js';
export { ProxyMetrics } from './metrics.js';
export { buildPodApp } from './pod-api.js';
export { type KnownPod, PodHeartbeatSchema, PodRegistrationSchema } from './pods.js';
export { NodeProxy } from './proxy.js';
export type { SessionView } from './sessions.js';
