import { coreError } from './errors.js';
import type { Protocol } from './protocol.js';

/** An explicit, ordered set of protocols. Order is classification priority. */
export interface Registry {
  readonly protocols: readonly Protocol[];
  get(name: string): Protocol | undefined;
}

export interface RegistryOptions {
  readonly protocols: readonly Protocol[];
}

const PROTOCOL_FUNCTIONS = ['probe', 'routingKey', 'createTracker'] as const;

export function isProtocol(value: unknown): value is Protocol {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.name === 'string' &&
    typeof candidate.version === 'string' &&
    typeof candidate.family === 'string' &&
    typeof candidate.reasons === 'object' &&
    candidate.reasons !== null &&
    PROTOCOL_FUNCTIONS.every((fn) => typeof candidate[fn] === 'function')
  );
}

/** Builds a registry. Throws GM_CORE_DUPLICATE_PROTOCOL / GM_CORE_INVALID_PROTOCOL. */
export function createRegistry(options: RegistryOptions): Registry {
  const byName = new Map<string, Protocol>();
  for (const [index, protocol] of options.protocols.entries()) {
    if (!isProtocol(protocol)) {
      throw coreError('GM_CORE_INVALID_PROTOCOL', `entry ${index} is not a protocol`, { index });
    }
    if (byName.has(protocol.name)) {
      throw coreError('GM_CORE_DUPLICATE_PROTOCOL', protocol.name, { name: protocol.name });
    }
    byName.set(protocol.name, protocol);
  }
  const protocols = Object.freeze([...byName.values()]);
  return Object.freeze({
    protocols,
    get: (name: string) => byName.get(name),
  });
}
