export { binding as nativeBinding, type RawMemory as DataPlaneMemory } from './binding.js';
export {
  type ClientEndpoint,
  createDataPlane,
  DataPlane,
  type DataPlaneEvents,
  type FlowAnswer,
  type Listener,
  type NewFlow,
  type SessionClosed,
  type SessionEvent,
} from './dataplane.js';
export { NATIVE_ERRORS, NativeError, type NativeErrorCode } from './errors.js';
export {
  COUNTER_NAMES,
  type CounterValues,
  type NativeCounterName,
  type NativeCounters,
  SESSION_FIELDS,
  type SessionSnapshot,
} from './memory.js';
export {
  type DataPlaneOptions,
  type Endpoint,
  type ListenerOptions,
  NATIVE_CLOSE_REASONS,
  NATIVE_PROTOCOL_IDS,
  type NativeProtocol,
  type TrackerOptions,
} from './options.js';
