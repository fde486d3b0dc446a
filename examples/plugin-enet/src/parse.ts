import { u16be, u32be, u32le } from '@gamemesh/core';
import {
  CHECKSUM_SIZE,
  COMMAND_COUNT,
  COMMAND_HEADER_SIZE,
  COMMAND_MASK,
  COMMAND_SIZES,
  COMMAND_UNUSED_BITS,
  CONNECT_CHANNEL_COUNT,
  CONNECT_CONNECT_ID,
  CONNECT_MTU,
  CONNECT_OUTGOING_PEER_ID,
  CONNECT_WINDOW_SIZE,
  CONTROL_CHANNEL,
  Command,
  DATA_LENGTH_OFFSETS,
  HEADER_FLAG_COMPRESSED,
  HEADER_FLAG_SENT_TIME,
  HEADER_PEER_ID_MASK,
  HEADER_SESSION_MASK,
  HEADER_SESSION_SHIFT,
  HEADER_SIZE_SHORT,
  HEADER_SIZE_WITH_SENT_TIME,
  IS_CONTROL_COMMAND,
  MAXIMUM_MTU,
  MAXIMUM_PACKET_COMMANDS,
} from './protocol.js';

/**
 * A strict walk over one ENet datagram: the header, then commands that must
 * consume the datagram exactly. ENet's own receiver stops quietly at the first
 * malformed command (protocol.c `enet_protocol_handle_incoming_commands`); a
 * classifier has to be stricter than that, since it must tell ENet apart from
 * every other UDP protocol, so any leftover or unknown byte fails the walk.
 * Failures are values with stable codes, never exceptions.
 */

export const PARSE_CODES = {
  too_short: 'shorter than a header and one command header',
  too_long: 'longer than ENet’s maximum MTU (4096), which bounds every datagram it sends',
  compressed:
    'the COMPRESSED header flag is set: commands are opaque without the host’s compressor',
  bad_command: 'command number 0 or above 12, or unused command bits set',
  bad_channel: 'a connection-level command off channel 0xFF, or a data command on it',
  truncated_command: 'a command’s fixed part runs past the end of the datagram',
  truncated_data: 'a command’s dataLength runs past the end of the datagram',
  too_many_commands: 'more than 32 commands (ENET_PROTOCOL_MAXIMUM_PACKET_COMMANDS)',
} as const;

export type ParseCode = keyof typeof PARSE_CODES;

export interface EnetHeader {
  /** Low 12 bits of the first u16; 0xFFF when the sender has no peer id yet. */
  readonly peerId: number;
  /** Session id bits 0x3000 >> 12. */
  readonly session: number;
  /** The header's u16 sentTime (sender's clock in ms, low 16 bits), or null when absent. */
  readonly sentTime: number | null;
}

export interface EnetCommand {
  /** Command number, 1..12 (see `Command`). */
  readonly number: number;
  /** The raw command byte, flags included. */
  readonly byte: number;
  readonly channel: number;
  readonly reliableSequence: number;
  /** Offset of the command header inside the datagram. */
  readonly offset: number;
  /** Bytes the command occupies, payload included. */
  readonly size: number;
}

export interface EnetDatagram {
  readonly ok: true;
  readonly header: EnetHeader;
  readonly commands: readonly EnetCommand[];
}

export interface ParseFailure {
  readonly ok: false;
  readonly code: ParseCode;
}

export type ParseResult = EnetDatagram | ParseFailure;

export interface ParseOptions {
  /** The host runs with a checksum callback: 4 more header bytes (protocol.c). */
  readonly checksum: boolean;
}

// Built once: a failed parse allocates nothing.
const FAILURES = Object.fromEntries(
  Object.keys(PARSE_CODES).map((code) => [code, Object.freeze({ ok: false, code })]),
) as Record<ParseCode, ParseFailure>;

/** Header length for this datagram, or 0 when the datagram is too short for it. */
function headerLength(data: Uint8Array, checksum: boolean): number {
  if (data.length < HEADER_SIZE_SHORT) return 0;
  const sentTime = (u16be(data, 0) & HEADER_FLAG_SENT_TIME) !== 0;
  return (
    (sentTime ? HEADER_SIZE_WITH_SENT_TIME : HEADER_SIZE_SHORT) + (checksum ? CHECKSUM_SIZE : 0)
  );
}

export function parseDatagram(data: Uint8Array, options: ParseOptions): ParseResult {
  const start = headerLength(data, options.checksum);
  if (start === 0 || data.length < start + COMMAND_HEADER_SIZE) return FAILURES.too_short;
  if (data.length > MAXIMUM_MTU) return FAILURES.too_long;
  const first = u16be(data, 0);
  if ((first & HEADER_FLAG_COMPRESSED) !== 0) return FAILURES.compressed;
  const commands: EnetCommand[] = [];
  let offset = start;
  while (offset < data.length) {
    if (commands.length === MAXIMUM_PACKET_COMMANDS) return FAILURES.too_many_commands;
    if (offset + COMMAND_HEADER_SIZE > data.length) return FAILURES.truncated_command;
    const byte = data[offset]!;
    const number = byte & COMMAND_MASK;
    if (number === 0 || number >= COMMAND_COUNT || (byte & COMMAND_UNUSED_BITS) !== 0) {
      return FAILURES.bad_command;
    }
    const channel = data[offset + 1]!;
    // ACKNOWLEDGE echoes the acknowledged command's channel, so it may be either.
    if (
      number !== Command.ACKNOWLEDGE &&
      IS_CONTROL_COMMAND[number] !== (channel === CONTROL_CHANNEL)
    ) {
      return FAILURES.bad_channel;
    }
    let size = COMMAND_SIZES[number]!;
    if (offset + size > data.length) return FAILURES.truncated_command;
    const dataLengthAt = DATA_LENGTH_OFFSETS[number]!;
    if (dataLengthAt >= 0) {
      size += u16be(data, offset + dataLengthAt);
      if (offset + size > data.length) return FAILURES.truncated_data;
    }
    commands.push({
      number,
      byte,
      channel,
      reliableSequence: u16be(data, offset + 2),
      offset,
      size,
    });
    offset += size;
  }
  return {
    ok: true,
    header: {
      peerId: first & HEADER_PEER_ID_MASK,
      session: (first & HEADER_SESSION_MASK) >> HEADER_SESSION_SHIFT,
      sentTime: (first & HEADER_FLAG_SENT_TIME) !== 0 ? u16be(data, 2) : null,
    },
    commands,
  };
}

/** The fields of CONNECT / VERIFY_CONNECT gamemesh uses. Caller passes a parsed command. */
export interface ConnectFields {
  readonly outgoingPeerId: number;
  readonly mtu: number;
  readonly windowSize: number;
  readonly channelCount: number;
  readonly connectId: number;
}

export function readConnectFields(data: Uint8Array, command: EnetCommand): ConnectFields {
  const at = command.offset;
  return {
    outgoingPeerId: u16be(data, at + CONNECT_OUTGOING_PEER_ID),
    mtu: u32be(data, at + CONNECT_MTU),
    windowSize: u32be(data, at + CONNECT_WINDOW_SIZE),
    channelCount: u32be(data, at + CONNECT_CHANNEL_COUNT),
    // host.c copies connectID raw, without ENET_HOST_TO_NET_32, unlike every
    // other field: it travels in the sender's byte order. Little-endian is what
    // ENet games run on, and reading it so makes the key equal `peer->connectID`.
    connectId: u32le(data, at + CONNECT_CONNECT_ID),
  };
}
