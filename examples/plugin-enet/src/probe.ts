import { type Datagram, match, needMore, no, type ProbeResult } from '@gamemesh/core';
import {
  type EnetDatagram,
  PARSE_CODES,
  type ParseCode,
  type ParseOptions,
  parseDatagram,
  readConnectFields,
} from './parse.js';
import {
  COMMAND_FLAG_ACKNOWLEDGE,
  COMMAND_FLAG_UNSEQUENCED,
  Command,
  MAXIMUM_CHANNEL_COUNT,
  MAXIMUM_MTU,
  MAXIMUM_WINDOW_SIZE,
  MINIMUM_CHANNEL_COUNT,
  MINIMUM_MTU,
  MINIMUM_WINDOW_SIZE,
  NO_PEER_ID,
} from './protocol.js';

/** Every reason code the probe returns. The fuzz test fails on any other. */
export const PROBE_REASONS = {
  connect: 'CONNECT from a sender without a peer id, every field within ENet’s ranges',
  consistent_walks:
    'two strict command walks of one direction agree: same peer and session, moving forward',
  single_walk: 'one strict command walk; waiting for a second datagram of the same session',
  bad_connect:
    'CONNECT with MTU, window size, channel count or peer id outside ENet’s ranges, session bits set, or not reliable',
  no_peer_without_connect:
    'peer id 0xFFF but the first command is not CONNECT (ENet drops such datagrams)',
  connect_with_peer: 'CONNECT from a sender that already has a peer id (ENet rejects it)',
  ...PARSE_CODES,
} as const;

export type ProbeReason = keyof typeof PROBE_REASONS;

const MATCH_CONNECT = match('connect', 'connect');
const MATCH_CONNECTED = match('connected', 'consistent_walks');
const NEED_MORE = needMore('single_walk');
const NO_BAD_CONNECT = no('bad_connect');
const NO_PEER_WITHOUT_CONNECT = no('no_peer_without_connect');
const NO_CONNECT_WITH_PEER = no('connect_with_peer');
const NO_BY_PARSE_CODE = Object.fromEntries(
  Object.keys(PARSE_CODES).map((code) => [code, no(code)]),
) as Record<ParseCode, ProbeResult>;

/**
 * How far a channel's reliable sequence number may advance between two
 * datagrams of one direction and still count as "moving forward". ENet
 * numbers reliable commands per channel, mod 2^16; a pending flow is only a
 * few datagrams long, so anything beyond this is a different stream.
 */
const MAX_SEQUENCE_ADVANCE = 1024;
/**
 * How far it may step back: a retransmitted reliable command reuses its
 * number, and unreliable commands queued before a reliable one carry the
 * older number yet go out after it (protocol.c sends reliable commands first).
 */
const MAX_SEQUENCE_REWIND = 256;
/**
 * Two sentTime headers of one sender differ by the sender's elapsed clock
 * (ms, mod 2^16); their arrival gap at the proxy must agree with it to
 * within network jitter.
 */
const SENT_TIME_TOLERANCE_MS = 1000;

export type Probe = (datagram: Datagram, history: readonly Datagram[]) => ProbeResult;

export function createProbe(options: ParseOptions): Probe {
  return (datagram, history) => {
    const parsed = parseDatagram(datagram.data, options);
    if (!parsed.ok) return NO_BY_PARSE_CODE[parsed.code];
    const first = parsed.commands[0]!;
    if (parsed.header.peerId === NO_PEER_ID) {
      if (first.number !== Command.CONNECT) return NO_PEER_WITHOUT_CONNECT;
      return isPlausibleConnect(datagram.data, parsed) ? MATCH_CONNECT : NO_BAD_CONNECT;
    }
    for (const command of parsed.commands) {
      if (command.number === Command.CONNECT) return NO_CONNECT_WITH_PEER;
    }
    for (let i = history.length - 1; i >= 0; i--) {
      const earlier = history[i]!;
      if (earlier.direction !== datagram.direction) continue;
      const previous = parseDatagram(earlier.data, options);
      if (previous.ok && walksAgree(previous, earlier.at, parsed, datagram.at))
        return MATCH_CONNECTED;
    }
    return NEED_MORE;
  };
}

function isPlausibleConnect(data: Uint8Array, parsed: EnetDatagram): boolean {
  const command = parsed.commands[0]!;
  // A sender without a peer id adds no session bits (protocol.c
  // enet_protocol_send_outgoing_commands), and CONNECT is always reliable (host.c).
  if (parsed.header.session !== 0 || (command.byte & COMMAND_FLAG_ACKNOWLEDGE) === 0) return false;
  const fields = readConnectFields(data, command);
  return (
    fields.mtu >= MINIMUM_MTU &&
    fields.mtu <= MAXIMUM_MTU &&
    fields.windowSize >= MINIMUM_WINDOW_SIZE &&
    fields.windowSize <= MAXIMUM_WINDOW_SIZE &&
    fields.channelCount >= MINIMUM_CHANNEL_COUNT &&
    fields.channelCount <= MAXIMUM_CHANNEL_COUNT &&
    fields.outgoingPeerId < NO_PEER_ID
  );
}

/**
 * True when `later` can follow `earlier` in one direction of one ENet
 * session: same peer id and session bits, every shared channel's reliable
 * sequence number moving forward (or back only as far as a retransmission), and at least one positive sign of
 * progress (a shared channel, or sentTime clocks that agree with arrival).
 */
export function walksAgree(
  earlier: EnetDatagram,
  earlierAt: number,
  later: EnetDatagram,
  laterAt: number,
): boolean {
  const a = earlier.header;
  const b = later.header;
  if (a.peerId !== b.peerId || a.session !== b.session || a.peerId === NO_PEER_ID) return false;
  let evidence = false;
  if (a.sentTime !== null && b.sentTime !== null) {
    const elapsed = (b.sentTime - a.sentTime) & 0xffff;
    if (Math.abs(elapsed - (laterAt - earlierAt)) > SENT_TIME_TOLERANCE_MS) return false;
    evidence = true;
  }
  for (const next of later.commands) {
    if (!carriesOwnSequence(next.number, next.byte)) continue;
    const last = lastSequenceOn(earlier, next.channel);
    if (last === -1) continue;
    const advance = (next.reliableSequence - last) & 0xffff;
    if (advance > MAX_SEQUENCE_ADVANCE && advance < 0x10000 - MAX_SEQUENCE_REWIND) return false;
    evidence = true;
  }
  return evidence;
}

function lastSequenceOn(parsed: EnetDatagram, channel: number): number {
  for (let i = parsed.commands.length - 1; i >= 0; i--) {
    const command = parsed.commands[i]!;
    if (command.channel === channel && carriesOwnSequence(command.number, command.byte)) {
      return command.reliableSequence;
    }
  }
  return -1;
}

/**
 * An ACKNOWLEDGE carries the peer's sequence number, not the sender's, and an
 * unsequenced command carries 0 (peer.c `enet_peer_setup_outgoing_command`).
 */
function carriesOwnSequence(number: number, byte: number): boolean {
  return number !== Command.ACKNOWLEDGE && (byte & COMMAND_FLAG_UNSEQUENCED) === 0;
}
