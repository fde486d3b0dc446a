import { u16be, u24le, u32be } from '@gamemesh/core';
import {
  DATA_FLAGS_MASK,
  DATA_HEADER_LENGTH,
  DATAGRAM_ACK,
  DATAGRAM_NAK,
  DATAGRAM_VALID,
  ORDERING_CHANNELS,
  RELIABILITY,
  SEQUENCE_MODULO,
} from './constants.js';
import type { DatagramCode } from './reasons.js';

/**
 * Connected RakNet datagrams (PROTOCOLS.md §1.5): data datagrams carrying
 * frames, and ACK/NAK datagrams carrying range records. Validation follows
 * the reader in `ReliabilityLayer.cpp` and `DS_RangeList.h`, and requires the
 * records or frames to consume the datagram exactly.
 */

export type ConnectedKind = 'data' | 'ack' | 'nak';

/** The kind a first byte announces, or null. Alignment bits must be zero (§5.1). */
export function connectedKind(firstByte: number): ConnectedKind | null {
  if ((firstByte & DATA_FLAGS_MASK) === DATAGRAM_VALID) return 'data';
  if (firstByte === DATAGRAM_ACK) return 'ack';
  if (firstByte === DATAGRAM_NAK) return 'nak';
  return null;
}

// ACK/NAK: u16 BE record count, then u8 minEqualsMax + u24 LE min [+ u24 LE max].
const RECORDS_OFFSET = 3;

/**
 * Walks the range records of an ACK/NAK datagram. Returns the number of
 * sequence numbers the records cover (>= 1) or a code. `onRange` sees each
 * record's min and max (inclusive).
 */
export function walkAckRecords(
  b: Uint8Array,
  onRange: ((min: number, max: number) => void) | null,
): number | DatagramCode {
  if (b.length < RECORDS_OFFSET) return 'ack_truncated';
  const count = u16be(b, 1);
  if (count === 0) return 'ack_no_records';
  let offset = RECORDS_OFFSET;
  let covered = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > b.length) return 'ack_truncated';
    const single = b[offset]!;
    const min = u24le(b, offset + 1);
    let max = min;
    if (single === 0) {
      if (offset + 7 > b.length) return 'ack_truncated';
      max = u24le(b, offset + 4);
      // DS_RangeList::Deserialize returns false on an inverted range.
      if (max < min) return 'ack_range_inverted';
      offset += 7;
    } else if (single === 1) {
      offset += 4;
    } else {
      return 'ack_record_flag';
    }
    covered += max - min + 1;
    if (onRange !== null) onRange(min, max);
  }
  return offset === b.length ? covered : 'ack_trailing';
}

/** One encapsulated frame, as the walker reports it. Offsets index the datagram. */
export interface FrameView {
  readonly reliability: number;
  readonly bitLength: number;
  readonly reliableIndex: number | null;
  readonly sequencingIndex: number | null;
  readonly orderingIndex: number | null;
  readonly orderingChannel: number | null;
  readonly split: { readonly count: number; readonly id: number; readonly index: number } | null;
  readonly payloadOffset: number;
  readonly payloadLength: number;
}

/**
 * Called per frame with the fields the tracker needs. `messageAt` is the
 * payload offset when the payload starts with a message id (an unsplit frame
 * or the first fragment), else -1: later fragments are mid-message bytes.
 */
export type FrameVisitor = (messageAt: number, payloadLength: number, frameIndex: number) => void;

function hasReliableIndex(reliability: number): boolean {
  return (
    reliability === RELIABILITY.RELIABLE ||
    reliability === RELIABILITY.RELIABLE_ORDERED ||
    reliability === RELIABILITY.RELIABLE_SEQUENCED
  );
}

function hasSequencingIndex(reliability: number): boolean {
  return (
    reliability === RELIABILITY.UNRELIABLE_SEQUENCED ||
    reliability === RELIABILITY.RELIABLE_SEQUENCED
  );
}

function hasOrderingIndex(reliability: number): boolean {
  return (
    reliability === RELIABILITY.UNRELIABLE_SEQUENCED ||
    reliability === RELIABILITY.RELIABLE_ORDERED ||
    reliability === RELIABILITY.RELIABLE_SEQUENCED
  );
}

/**
 * Reads the frame at `offset`. Returns the offset after it, or a code.
 * `out`, when given, receives the parsed frame.
 */
function readFrame(b: Uint8Array, offset: number, out: FrameView[] | null): number | DatagramCode {
  if (offset + 3 > b.length) return 'frame_truncated';
  const flags = b[offset]!;
  const reliability = flags >>> 5;
  // Writers put reliability<<5 | hasSplit<<4 and pad with zero bits; 5..7 are
  // mapped to 0/2/3 before writing (§1.5), so they never appear on the wire.
  if ((flags & 0x0f) !== 0 || reliability > RELIABILITY.RELIABLE_SEQUENCED) return 'frame_flags';
  const hasSplit = (flags & 0x10) !== 0;
  const bitLength = u16be(b, offset + 1);
  if (bitLength === 0) return 'frame_zero_length';
  let at = offset + 3;
  let reliableIndex: number | null = null;
  let sequencingIndex: number | null = null;
  let orderingIndex: number | null = null;
  let orderingChannel: number | null = null;
  if (hasReliableIndex(reliability)) {
    if (at + 3 > b.length) return 'frame_truncated';
    reliableIndex = u24le(b, at);
    at += 3;
  }
  if (hasSequencingIndex(reliability)) {
    if (at + 3 > b.length) return 'frame_truncated';
    sequencingIndex = u24le(b, at);
    at += 3;
  }
  if (hasOrderingIndex(reliability)) {
    if (at + 4 > b.length) return 'frame_truncated';
    orderingIndex = u24le(b, at);
    orderingChannel = b[at + 3]!;
    if (orderingChannel >= ORDERING_CHANNELS) return 'frame_channel';
    at += 4;
  }
  let split: FrameView['split'] = null;
  let splitIndex = 0;
  if (hasSplit) {
    if (at + 10 > b.length) return 'frame_truncated';
    const count = u32be(b, at);
    splitIndex = u32be(b, at + 6);
    if (splitIndex >= count) return 'frame_split_index';
    if (out !== null) split = { count, id: u16be(b, at + 4), index: splitIndex };
    at += 10;
  }
  const payloadLength = (bitLength + 7) >>> 3;
  if (at + payloadLength > b.length) return 'frame_truncated';
  if (out !== null) {
    out.push({
      reliability,
      bitLength,
      reliableIndex,
      sequencingIndex,
      orderingIndex,
      orderingChannel,
      split,
      payloadOffset: at,
      payloadLength,
    });
  }
  return at + payloadLength;
}

/**
 * Walks every frame of a data datagram (first byte already known to be a
 * data header). Returns the frame count (>= 1) or a code. `visit` sees each
 * frame's message start; `frames` collects full frame views.
 */
export function walkDataFrames(
  b: Uint8Array,
  visit: FrameVisitor | null,
  frames: FrameView[] | null = null,
): number | DatagramCode {
  // A data datagram always carries at least one frame (3-byte minimum header).
  if (b.length < DATA_HEADER_LENGTH + 3) return 'data_truncated';
  let offset = DATA_HEADER_LENGTH;
  let index = 0;
  while (offset < b.length) {
    const start = offset;
    const next = readFrame(b, offset, frames);
    if (typeof next === 'string') return next;
    if (visit !== null) {
      const payloadLength = frameWalkPayloadLength(b, start);
      const messageAt = isFirstFragment(b, start) ? next - payloadLength : -1;
      visit(messageAt, payloadLength, index);
    }
    offset = next;
    index++;
  }
  return index;
}

function frameWalkPayloadLength(b: Uint8Array, frameStart: number): number {
  return (u16be(b, frameStart + 1) + 7) >>> 3;
}

/** True when the frame at `frameStart` is unsplit, or the fragment with index 0. */
function isFirstFragment(b: Uint8Array, frameStart: number): boolean {
  const flags = b[frameStart]!;
  if ((flags & 0x10) === 0) return true;
  const reliability = flags >>> 5;
  let at = frameStart + 3;
  if (hasReliableIndex(reliability)) at += 3;
  if (hasSequencingIndex(reliability)) at += 3;
  if (hasOrderingIndex(reliability)) at += 4;
  return u32be(b, at + 6) === 0;
}

/** Validates any connected datagram without allocating. */
export function checkConnectedDatagram(b: Uint8Array): 'ok' | DatagramCode {
  if (b.length === 0) return 'unknown_first_byte';
  const kind = connectedKind(b[0]!);
  if (kind === null) return 'unknown_first_byte';
  const result = kind === 'data' ? walkDataFrames(b, null) : walkAckRecords(b, null);
  return typeof result === 'string' ? result : 'ok';
}

export interface SequenceRange {
  readonly min: number;
  readonly max: number;
}

export type ConnectedDatagram =
  | {
      readonly kind: 'data';
      readonly flags: number;
      readonly sequence: number;
      readonly frames: readonly FrameView[];
    }
  | {
      readonly kind: 'ack' | 'nak';
      readonly ranges: readonly SequenceRange[];
      readonly covered: number;
    };

export type ConnectedParse =
  | { readonly ok: true; readonly datagram: ConnectedDatagram }
  | { readonly ok: false; readonly code: DatagramCode };

/** Full parse of a connected datagram, for tools and differential tests. */
export function parseConnectedDatagram(b: Uint8Array): ConnectedParse {
  if (b.length === 0) return { ok: false, code: 'unknown_first_byte' };
  const kind = connectedKind(b[0]!);
  if (kind === null) return { ok: false, code: 'unknown_first_byte' };
  if (kind === 'data') {
    const frames: FrameView[] = [];
    const result = walkDataFrames(b, null, frames);
    if (typeof result === 'string') return { ok: false, code: result };
    return { ok: true, datagram: { kind, flags: b[0]!, sequence: u24le(b, 1), frames } };
  }
  const ranges: SequenceRange[] = [];
  const covered = walkAckRecords(b, (min, max) => ranges.push({ min, max }));
  if (typeof covered === 'string') return { ok: false, code: covered };
  return { ok: true, datagram: { kind, ranges, covered } };
}

/** Forward distance from `from` to `to` in u24 sequence space (0..2^24-1). */
export function sequenceDistance(from: number, to: number): number {
  return (to - from + SEQUENCE_MODULO) % SEQUENCE_MODULO;
}
