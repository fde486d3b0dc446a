import { hex } from '../bytes.js';
import type { Datagram, Direction } from '../datagram.js';
import type { Protocol } from '../protocol.js';
import { createRandom, mutate, type Random } from './random.js';

export interface FuzzOptions {
  /** Real datagrams of the protocol (from captures or a real peer) to mutate. */
  readonly seeds: readonly Uint8Array[];
  /** Datagrams to generate. */
  readonly iterations: number;
  /** PRNG seed; print it with any failure so it can be replayed. */
  readonly seed?: number;
  /** Stop early after this many milliseconds (the count reached is reported). */
  readonly timeBudgetMs?: number;
  /** Extra checks on each input, e.g. a parser that must not throw either. */
  readonly extra?: (data: Uint8Array) => void;
}

export interface FuzzFailure {
  readonly stage: 'probe' | 'routingKey' | 'tracker' | 'extra' | 'reason';
  readonly input: string;
  readonly message: string;
}

export interface FuzzReport {
  readonly protocol: string;
  readonly seed: number;
  readonly iterations: number;
  readonly verdicts: Readonly<Record<string, number>>;
  /** Reason codes returned by probe that are not in `protocol.reasons`. */
  readonly undocumentedReasons: readonly string[];
  readonly failures: readonly FuzzFailure[];
}

const MAX_FAILURES = 20;
const HISTORY_LENGTH = 8;
const TRACKER_LIFETIME = 64;

/**
 * Feeds a protocol's probe, routing-key extractor and tracker with seeded
 * random and mutated datagrams. Nothing may throw; every reason code must be
 * documented. Half the inputs are mutations of real seeds, so deep parser
 * paths are reached, not just the length check.
 */
export function fuzzProtocol(protocol: Protocol, options: FuzzOptions): FuzzReport {
  const seed = options.seed ?? 1;
  const random = createRandom(seed);
  const verdicts: Record<string, number> = { match: 0, 'need-more': 0, no: 0 };
  const undocumented = new Set<string>();
  const failures: FuzzFailure[] = [];
  const history: Datagram[] = [];
  const deadline =
    options.timeBudgetMs === undefined ? Infinity : Date.now() + options.timeBudgetMs;
  const fail = (stage: FuzzFailure['stage'], data: Uint8Array, error: unknown): void => {
    if (failures.length >= MAX_FAILURES) return;
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    failures.push({ stage, input: hex(data, 0, 256), message });
  };
  let tracker = newTracker(protocol, random, (e) => fail('tracker', new Uint8Array(), e));
  let at = 1_700_000_000_000;
  let done = 0;
  for (; done < options.iterations; done++) {
    if ((done & 0x3ff) === 0 && Date.now() > deadline) break;
    const data = nextInput(random, options.seeds);
    at += random.int(40);
    const direction: Direction = random.int(3) === 0 ? 'reverse' : 'forward';
    const datagram: Datagram = { data, direction, at };
    try {
      const result = protocol.probe(datagram, history);
      verdicts[result.verdict] = (verdicts[result.verdict] ?? 0) + 1;
      if (!Object.hasOwn(protocol.reasons, result.reason)) undocumented.add(result.reason);
    } catch (error) {
      fail('probe', data, error);
    }
    try {
      protocol.routingKey(datagram);
    } catch (error) {
      fail('routingKey', data, error);
    }
    if (tracker !== null) {
      try {
        tracker.observe(datagram);
        if ((done & 0xf) === 0) {
          tracker.stats();
          tracker.key();
        }
      } catch (error) {
        fail('tracker', data, error);
      }
    }
    if (options.extra !== undefined) {
      try {
        options.extra(data);
      } catch (error) {
        fail('extra', data, error);
      }
    }
    history.push(datagram);
    if (history.length > HISTORY_LENGTH) history.shift();
    if (done % TRACKER_LIFETIME === TRACKER_LIFETIME - 1) {
      tracker = newTracker(protocol, random, (e) => fail('tracker', data, e));
      history.length = 0;
    }
  }
  for (const reason of undocumented) {
    failures.push({ stage: 'reason', input: '', message: `undocumented reason code ${reason}` });
  }
  return {
    protocol: protocol.name,
    seed,
    iterations: done,
    verdicts,
    undocumentedReasons: [...undocumented],
    failures,
  };
}

// Variants are protocol-specific; a tracker must cope with any datagram, so
// any variant name it knows is a fair start. Unknown ones must not throw either.
function newTracker(protocol: Protocol, random: Random, onError: (error: unknown) => void) {
  try {
    return protocol.createTracker({
      variant: random.pick([
        'default',
        'raw',
        'offline',
        'connected',
        'fec',
        'crypt-none',
        'kcp2k',
        'rtp',
        'rtcp',
        'request',
        'encrypted',
        'x',
      ]),
    });
  } catch (error) {
    onError(error);
    return null;
  }
}

function nextInput(random: Random, seeds: readonly Uint8Array[]): Uint8Array {
  const roll = random.int(16);
  if (seeds.length > 0 && roll < 9) return mutate(random, random.pick(seeds), seeds);
  if (seeds.length > 0 && roll < 10) return random.pick(seeds).slice();
  if (roll < 11) return new Uint8Array(random.int(1500));
  if (roll < 13) return random.bytes(random.int(48));
  return random.bytes(random.int(1500));
}
