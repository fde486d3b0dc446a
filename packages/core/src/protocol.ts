import type { Datagram } from './datagram.js';
import { type ConfigIssue, coreError, type Parsed } from './errors.js';

/**
 * The protocol plugin API. A protocol is a versioned name, a typed config,
 * a pure `probe`, a routing-key extractor and a per-session tracker. The
 * built-in protocols use exactly this API.
 */

/** What a probe concluded about one datagram, with a stable reason code. */
export type ProbeResult = ProbeMatch | ProbeNeedMore | ProbeNo;

export interface ProbeMatch {
  readonly verdict: 'match';
  /** Which flavour of the protocol, e.g. `raw`, `fec`, `offline`; `default` when there is one. */
  readonly variant: string;
  readonly reason: string;
}

export interface ProbeNeedMore {
  readonly verdict: 'need-more';
  readonly reason: string;
}

export interface ProbeNo {
  readonly verdict: 'no';
  readonly reason: string;
}

// Results are immutable and carry no per-datagram data, so plugins build them
// once at module load and the probe path allocates nothing.
export function match(variant: string, reason: string): ProbeMatch {
  return Object.freeze({ verdict: 'match', variant, reason });
}

export function needMore(reason: string): ProbeNeedMore {
  return Object.freeze({ verdict: 'need-more', reason });
}

export function no(reason: string): ProbeNo {
  return Object.freeze({ verdict: 'no', reason });
}

/** Statistics a tracker reveals. Well-known names below; protocols add their own. */
export interface ProtocolStats {
  readonly [name: string]: number | string | boolean | null;
}

/**
 * Statistic names that mean the same thing in every protocol, so dashboards
 * and the proxy's histograms can use them without knowing the protocol.
 */
export const WELL_KNOWN_STATS = {
  lossRatio: 'fraction of packets lost, 0..1, as the protocol itself reveals it',
  jitterMs: 'interarrival jitter in milliseconds (RFC 3550 A.8 for RTP)',
  rttMs: 'latest round-trip time in milliseconds measured from protocol echoes',
} as const;

/** Why a session ended. Bounded: these double as metric label values. */
export const CLOSE_REASONS = {
  protocol_disconnect:
    'the protocol said goodbye (RakNet 0x15, netcode disconnect, kcp2k disconnect)',
  bye: 'RTCP BYE for the session SSRC',
  denied: 'the server refused the connection in-protocol (netcode denied, RakNet no free slots)',
  idle: 'no datagram within the idle backstop',
  evicted: 'removed to make room (session table full)',
  proxy_shutdown: 'the proxy stopped',
  plugin_error: 'the protocol tracker threw; the session was detached from it',
} as const;

export type CloseReason = keyof typeof CLOSE_REASONS;

export type DetailValue = string | number | boolean | null;

export type LifecycleEvent =
  | {
      readonly type: 'opened';
      readonly key: string | null;
      readonly at: number;
      /** What the protocol revealed at open time (GUIDs, MTU, client id, ...). */
      readonly detail?: Readonly<Record<string, DetailValue>>;
    }
  | {
      readonly type: 'closed';
      /** The session key the close applies to; may differ from the flow's (RTCP BYE names an SSRC). */
      readonly key: string | null;
      readonly at: number;
      readonly reason: CloseReason;
    };

/** Per-session state, fed every datagram of the session in both directions. */
export interface SessionTracker<S extends ProtocolStats = ProtocolStats> {
  /** Feeds one datagram. Returns the lifecycle events it caused; usually `NO_EVENTS`. */
  observe(datagram: Datagram): readonly LifecycleEvent[];
  /** The session's routing key as known so far (null until the protocol reveals it). */
  key(): string | null;
  stats(): S;
}

export const NO_EVENTS: readonly LifecycleEvent[] = Object.freeze([]);

export interface TrackerContext {
  /** The variant the probe matched. */
  readonly variant: string;
}

export interface Protocol<C = unknown, S extends ProtocolStats = ProtocolStats> {
  readonly name: string;
  readonly version: string;
  /**
   * Sessions of one family share keys across flows: `rtp` and `rtcp` are one
   * family, so an RTCP BYE closes the RTP flow with the same SSRC.
   */
  readonly family: string;
  readonly config: Readonly<C>;
  /** Every reason code `probe` can return, with what it means. */
  readonly reasons: Readonly<Record<string, string>>;
  /**
   * Pure and cheap; never throws; checks length first. `history` holds the
   * flow's earlier datagrams (both directions, oldest first, bounded), for
   * protocols that need more than one datagram of evidence.
   */
  probe(datagram: Datagram, history: readonly Datagram[]): ProbeResult;
  /** The protocol's own identity for a session, when this datagram carries it. */
  routingKey(datagram: Datagram): string | null;
  createTracker(context: TrackerContext): SessionTracker<S>;
}

/** What a plugin author writes; `defineProtocol` turns it into a factory. */
export interface ProtocolDefinition<C extends object, S extends ProtocolStats> {
  readonly name: string;
  readonly version: string;
  readonly family?: string;
  readonly reasons: Readonly<Record<string, string>>;
  readonly defaults: C;
  /**
   * Turns untrusted config (YAML, JSON, CLI) into a typed config. Optional:
   * the default accepts an object whose keys exist in `defaults` with values
   * of the same type.
   */
  parseConfig?(raw: unknown, defaults: C): Parsed<C>;
  build(config: Readonly<C>): Pick<Protocol<C, S>, 'probe' | 'routingKey' | 'createTracker'>;
}

export interface ProtocolFactory<
  C extends object = object,
  S extends ProtocolStats = ProtocolStats,
> {
  readonly name: string;
  readonly version: string;
  readonly defaults: Readonly<C>;
  /** For code: typed config, throws GM_CORE_INVALID_CONFIG on a bad value. */
  create(config?: Partial<C>): Protocol<C, S>;
  /** For untrusted input: a protocol or the list of issues. */
  parse(raw: unknown): Parsed<Protocol<C, S>>;
}

const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

export function defineProtocol<C extends object, S extends ProtocolStats = ProtocolStats>(
  definition: ProtocolDefinition<C, S>,
): ProtocolFactory<C, S> {
  if (!NAME_PATTERN.test(definition.name)) {
    throw coreError(
      'GM_CORE_INVALID_PROTOCOL',
      `name ${JSON.stringify(definition.name)} must match ${NAME_PATTERN}`,
    );
  }
  const parseConfig = definition.parseConfig ?? parseShallowConfig;
  const instantiate = (config: C): Protocol<C, S> => {
    const frozen = Object.freeze({ ...config });
    const parts = definition.build(frozen);
    return Object.freeze({
      name: definition.name,
      version: definition.version,
      family: definition.family ?? definition.name,
      config: frozen,
      reasons: definition.reasons,
      probe: parts.probe,
      routingKey: parts.routingKey,
      createTracker: parts.createTracker,
    });
  };
  const parse = (raw: unknown): Parsed<Protocol<C, S>> => {
    const parsed = parseConfig(raw, definition.defaults);
    return parsed.ok ? { ok: true, value: instantiate(parsed.value) } : parsed;
  };
  return Object.freeze({
    name: definition.name,
    version: definition.version,
    defaults: definition.defaults,
    parse,
    create(config?: Partial<C>): Protocol<C, S> {
      const result = parse(config ?? {});
      if (!result.ok) {
        const text = result.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; ');
        throw coreError('GM_CORE_INVALID_CONFIG', `${definition.name}: ${text}`, {
          issues: result.issues,
        });
      }
      return result.value;
    },
  });
}

/**
 * Default config parser: `undefined` means defaults; otherwise an object
 * whose keys all exist in `defaults`, each value of the default's type.
 */
export function parseShallowConfig<C extends object>(raw: unknown, defaults: C): Parsed<C> {
  if (raw === undefined || raw === null) return { ok: true, value: { ...defaults } };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, issues: [{ path: '', message: 'must be an object' }] };
  }
  const issues: ConfigIssue[] = [];
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(defaults, key)) {
      issues.push({ path: `/${key}`, message: 'unknown option' });
      continue;
    }
    const expected = (defaults as Record<string, unknown>)[key];
    if (expected !== null && expected !== undefined && typeof value !== typeof expected) {
      issues.push({ path: `/${key}`, message: `must be a ${typeof expected}` });
      continue;
    }
    out[key] = value;
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: out as C };
}
