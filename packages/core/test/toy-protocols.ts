import {
  type Datagram,
  defineProtocol,
  type LifecycleEvent,
  match,
  NO_EVENTS,
  needMore,
  no,
} from '../src/index.js';

/**
 * Small protocols with a one-byte "magic", used to exercise the classifier
 * and flows. `prefix` matches on one datagram; `pair` needs two datagrams
 * starting with its byte; `faulty` throws from the parts a plugin promised
 * never to throw from.
 */

const MATCHED = match('default', 'magic');
const NO_MAGIC = no('no_magic');
const EMPTY = no('too_short');
const WAITING = needMore('one_seen');

export function prefixProtocol(name: string, magic: number) {
  return defineProtocol({
    name,
    version: '1.0.0',
    reasons: {
      magic: 'first byte is the magic',
      no_magic: 'first byte differs',
      too_short: 'empty',
    },
    defaults: { closeByte: 0xff },
    build: (config) => ({
      probe: (d: Datagram) =>
        d.data.length === 0 ? EMPTY : d.data[0] === magic ? MATCHED : NO_MAGIC,
      routingKey: (d: Datagram) => (d.data.length >= 2 ? String(d.data[1]) : null),
      createTracker: () => {
        let seen = 0;
        let key: string | null = null;
        return {
          observe(d: Datagram): readonly LifecycleEvent[] {
            seen++;
            if (key === null && d.data.length >= 2) {
              key = String(d.data[1]);
              return [{ type: 'opened', key, at: d.at, detail: { seen } }];
            }
            if (d.data[0] === config.closeByte)
              return [{ type: 'closed', key, at: d.at, reason: 'protocol_disconnect' }];
            return NO_EVENTS;
          },
          key: () => key,
          stats: () => ({ seen }),
        };
      },
    }),
  });
}

export function pairProtocol(name: string, magic: number) {
  return defineProtocol({
    name,
    version: '1.0.0',
    reasons: {
      magic: 'two datagrams with the magic',
      one_seen: 'one so far',
      no_magic: 'first byte differs',
    },
    defaults: {},
    build: () => ({
      probe: (d: Datagram, history: readonly Datagram[]) => {
        if (d.data[0] !== magic) return NO_MAGIC;
        return history.some((h) => h.data[0] === magic) ? MATCHED : WAITING;
      },
      routingKey: () => null,
      createTracker: () => {
        let seen = 0;
        return {
          observe: () => {
            seen++;
            return NO_EVENTS;
          },
          key: () => null,
          stats: () => ({ seen }),
        };
      },
    }),
  });
}

export function faultyProtocol(name: string, where: 'probe' | 'tracker') {
  return defineProtocol({
    name,
    version: '0.0.1',
    reasons: { magic: 'always' },
    defaults: {},
    build: () => ({
      probe: () => {
        if (where === 'probe') throw new Error('probe exploded');
        return MATCHED;
      },
      routingKey: () => null,
      createTracker: () => ({
        observe: () => {
          throw new Error('tracker exploded');
        },
        key: () => null,
        stats: () => ({}),
      }),
    }),
  });
}

let clock = 1_700_000_000_000;
export function datagram(bytes: number[], direction: 'forward' | 'reverse' = 'forward'): Datagram {
  clock += 1;
  return { data: Uint8Array.from(bytes), direction, at: clock };
}
