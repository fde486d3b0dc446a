import {
  type Datagram,
  defineProtocol,
  type LifecycleEvent,
  match,
  NO_EVENTS,
  needMore,
  no,
} from '@gamemesh/core';

/**
 * Small protocols for inspect tests, so classification is tested without the
 * built-ins: `greet` (first byte 'G', key in byte 1, 0xff closes), an `av`
 * family of `media` (0x80) and `control` (0xc8; 0xbb in byte 2 is a BYE for
 * the key in byte 1), and `slow` (0x33 forever needs more).
 */

const GREET = match('default', 'magic');
const NOT_GREET = no('no_magic');
const EMPTY = no('too_short');

export const greet = defineProtocol({
  name: 'greet',
  version: '1.0.0',
  reasons: { magic: "first byte is 'G'", no_magic: 'first byte differs', too_short: 'empty' },
  defaults: {},
  build: () => ({
    probe: (d: Datagram) => (d.data.length === 0 ? EMPTY : d.data[0] === 0x47 ? GREET : NOT_GREET),
    routingKey: (d: Datagram) =>
      d.data.length >= 2 && d.data[0] === 0x47 ? String(d.data[1]) : null,
    createTracker: () => {
      let key: string | null = null;
      let greetings = 0;
      return {
        observe(d: Datagram): readonly LifecycleEvent[] {
          if (d.data[0] === 0x47) greetings++;
          if (key === null && d.data.length >= 2 && d.data[0] === 0x47) {
            key = String(d.data[1]);
            return [{ type: 'opened', key, at: d.at, detail: { direction: d.direction } }];
          }
          if (d.data[0] === 0xff)
            return [{ type: 'closed', key, at: d.at, reason: 'protocol_disconnect' }];
          return NO_EVENTS;
        },
        key: () => key,
        stats: () => ({ greetings, lossRatio: 0.25 }),
      };
    },
  }),
});

function avMember(name: 'media' | 'control', first: number) {
  const hit = match(name === 'media' ? 'stream' : 'report', 'marker');
  const miss = no('no_marker');
  const short = no('too_short');
  return defineProtocol({
    name,
    version: '1.0.0',
    family: 'av',
    reasons: {
      marker: 'first byte is the marker',
      no_marker: 'first byte differs',
      too_short: 'under 2 bytes',
    },
    defaults: {},
    build: () => ({
      probe: (d: Datagram) => (d.data.length < 2 ? short : d.data[0] === first ? hit : miss),
      routingKey: (d: Datagram) => (d.data.length >= 2 ? String(d.data[1]) : null),
      createTracker: () => {
        let key: string | null = null;
        return {
          observe(d: Datagram): readonly LifecycleEvent[] {
            if (d.data.length < 2) return NO_EVENTS;
            if (name === 'control' && d.data[2] === 0xbb) {
              return [{ type: 'closed', key: String(d.data[1]), at: d.at, reason: 'bye' }];
            }
            if (key === null) {
              key = String(d.data[1]);
              return [{ type: 'opened', key, at: d.at }];
            }
            return NO_EVENTS;
          },
          key: () => key,
          stats: () => ({}),
        };
      },
    }),
  });
}

export const media = avMember('media', 0x80);
export const control = avMember('control', 0xc8);

const SLOW_WAIT = needMore('undecided');
const NOT_SLOW = no('no_marker');
export const slow = defineProtocol({
  name: 'slow',
  version: '1.0.0',
  reasons: { undecided: 'first byte 0x33: needs more', no_marker: 'first byte differs' },
  defaults: {},
  build: () => ({
    probe: (d: Datagram) => (d.data.length > 0 && d.data[0] === 0x33 ? SLOW_WAIT : NOT_SLOW),
    routingKey: () => null,
    createTracker: () => ({ observe: () => NO_EVENTS, key: () => null, stats: () => ({}) }),
  }),
});

export function testProtocols() {
  return [greet.create(), media.create(), control.create(), slow.create()];
}
