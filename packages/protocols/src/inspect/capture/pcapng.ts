import { u16be, u16le, u32be, u32le } from '@gamemesh/core';
import { type InspectError, inspectError } from '../errors.js';
import type { CaptureCursor } from './cursor.js';
import { type FrameSink, MAX_RECORD_BYTES } from './frame.js';

/**
 * pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks `type, total
 * length, body, total length`. Each Section Header Block sets the byte order
 * for its section and resets the interface list. Packet blocks need their
 * Interface Description Block for link type, snaplen and timestamp unit;
 * every other block type is skipped by its length without being buffered.
 */

export const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const IDB = 0x00000001;
const OBSOLETE_PACKET_BLOCK = 0x00000002;
const SPB = 0x00000003;
const EPB = 0x00000006;

const OPTION_END = 0;
const OPTION_IF_TSRESOL = 9;
const OPTION_IF_TSOFFSET = 14;

interface Interface {
  readonly linkType: number;
  readonly snaplen: number;
  readonly unitsPerMs: number;
  readonly offsetMs: number;
}

interface Section {
  readonly u16: (b: Uint8Array, o: number) => number;
  readonly u32: (b: Uint8Array, o: number) => number;
  readonly interfaces: Interface[];
}

export interface PcapngStats {
  sections: number;
  interfaces: number;
  skippedBlocks: number;
}

export async function readPcapng(
  cursor: CaptureCursor,
  stats: PcapngStats,
  onFrame: FrameSink,
): Promise<InspectError | null> {
  let section: Section | null = null;
  // SPBs carry no timestamp; they inherit the previous packet's time.
  let lastAt = 0;
  for (;;) {
    const offset = cursor.offset;
    const buffered = cursor.available >= 12 ? cursor.available : await cursor.ensure(12);
    if (buffered === 0) return null;
    if (buffered < 12) {
      return inspectError(
        'GM_INSPECT_TRUNCATED',
        `block header needs 12 bytes, ${buffered} remain`,
        offset,
      );
    }
    let head = cursor.view(12);
    const typeLe = u32le(head, 0);
    if (typeLe === PCAPNG_SHB) {
      const order = u32le(head, 8);
      if (order === BYTE_ORDER_MAGIC) {
        section = { u16: u16le, u32: u32le, interfaces: [] };
      } else if (u32be(head, 8) === BYTE_ORDER_MAGIC) {
        section = { u16: u16be, u32: u32be, interfaces: [] };
      } else {
        return inspectError(
          'GM_INSPECT_BAD_BLOCK',
          `section header byte-order magic is 0x${order.toString(16)}`,
          offset,
        );
      }
      stats.sections++;
    } else if (section === null) {
      return inspectError(
        'GM_INSPECT_BAD_BLOCK',
        'the file does not start with a section header block',
        offset,
      );
    }
    const type = section.u32(head, 0);
    const length = section.u32(head, 4);
    const minimum =
      type === PCAPNG_SHB
        ? 28
        : type === IDB
          ? 20
          : type === SPB
            ? 16
            : type === EPB || type === OBSOLETE_PACKET_BLOCK
              ? 32
              : 12;
    if (length % 4 !== 0 || length < minimum) {
      return inspectError(
        'GM_INSPECT_BAD_BLOCK',
        `block type 0x${type.toString(16)} has total length ${length} (needs a multiple of 4, at least ${minimum})`,
        offset,
      );
    }
    const parsed =
      type === PCAPNG_SHB ||
      type === IDB ||
      type === EPB ||
      type === SPB ||
      type === OBSOLETE_PACKET_BLOCK;
    if (!parsed) {
      // Skipped without buffering, so a huge block costs no memory.
      cursor.skip(length - 4);
      const tail = await cursor.ensure(4);
      if (tail < 4) {
        return inspectError(
          'GM_INSPECT_TRUNCATED',
          `block of ${length} bytes is cut short by the end of the file`,
          offset,
        );
      }
      const trailer = section.u32(cursor.view(4), 0);
      if (trailer !== length) return trailerMismatch(offset, length, trailer);
      cursor.skip(4);
      stats.skippedBlocks++;
      continue;
    }
    if (length > MAX_RECORD_BYTES) {
      return inspectError(
        'GM_INSPECT_BAD_BLOCK',
        `block claims ${length} bytes, more than the limit ${MAX_RECORD_BYTES}`,
        offset,
      );
    }
    const whole = await cursor.ensure(length);
    if (whole < length) {
      return inspectError(
        'GM_INSPECT_TRUNCATED',
        `block needs ${length} bytes, ${whole} remain`,
        offset,
      );
    }
    head = cursor.view(length);
    const trailer = section.u32(head, length - 4);
    if (trailer !== length) return trailerMismatch(offset, length, trailer);
    const problem = parseBlock(section, type, head, length, offset, lastAt, onFrame, stats);
    if (typeof problem === 'number') {
      lastAt = problem;
    } else if (problem !== null) {
      return problem;
    }
    cursor.skip(length);
  }
}

function trailerMismatch(offset: number, length: number, trailer: number): InspectError {
  return inspectError(
    'GM_INSPECT_BAD_BLOCK',
    `block total length ${length} does not match its trailing copy ${trailer}`,
    offset,
  );
}

/** Returns the packet time when a packet was delivered, an error, or null. */
function parseBlock(
  section: Section,
  type: number,
  block: Uint8Array,
  length: number,
  offset: number,
  lastAt: number,
  onFrame: FrameSink,
  stats: PcapngStats,
): number | InspectError | null {
  const { u16, u32 } = section;
  if (type === PCAPNG_SHB) {
    const major = u16(block, 12);
    if (major !== 1)
      return inspectError(
        'GM_INSPECT_BAD_BLOCK',
        `section header version ${major} is not 1`,
        offset,
      );
    return null;
  }
  if (type === IDB) {
    section.interfaces.push(describeInterface(section, block, length));
    stats.interfaces++;
    return null;
  }
  if (type === SPB) {
    const iface = section.interfaces[0];
    if (iface === undefined)
      return inspectError(
        'GM_INSPECT_BAD_BLOCK',
        'simple packet block before any interface description',
        offset,
      );
    const originalLength = u32(block, 8);
    let captured = Math.min(originalLength, length - 16);
    if (iface.snaplen > 0) captured = Math.min(captured, iface.snaplen);
    onFrame({
      linkType: iface.linkType,
      at: lastAt,
      data: block.subarray(12, 12 + captured),
      originalLength,
      offset,
    });
    return lastAt;
  }
  // EPB and the obsolete packet block share the layout after the interface id.
  const interfaceId = type === EPB ? u32(block, 8) : u16(block, 8);
  const iface = section.interfaces[interfaceId];
  if (iface === undefined) {
    return inspectError(
      'GM_INSPECT_BAD_BLOCK',
      `packet block names interface ${interfaceId}, only ${section.interfaces.length} described`,
      offset,
    );
  }
  const captured = u32(block, 20);
  if (28 + captured > length - 4) {
    return inspectError(
      'GM_INSPECT_BAD_BLOCK',
      `packet block claims ${captured} captured bytes, its length is ${length}`,
      offset,
    );
  }
  const units = u32(block, 12) * 4294967296 + u32(block, 16);
  const at = units / iface.unitsPerMs + iface.offsetMs;
  onFrame({
    linkType: iface.linkType,
    at,
    data: block.subarray(28, 28 + captured),
    originalLength: u32(block, 24),
    offset,
  });
  return at;
}

function describeInterface(section: Section, block: Uint8Array, length: number): Interface {
  const { u16, u32 } = section;
  let unitsPerSecond = 1e6;
  let offsetMs = 0;
  const end = length - 4;
  for (let o = 16; o + 4 <= end; ) {
    const code = u16(block, o);
    const size = u16(block, o + 2);
    if (code === OPTION_END || o + 4 + size > end) break;
    if (code === OPTION_IF_TSRESOL && size >= 1) {
      // MSB clear: 10^-n seconds; MSB set: 2^-n seconds (pcapng §4.2, if_tsresol).
      const value = block[o + 4]!;
      unitsPerSecond = value & 0x80 ? 2 ** (value & 0x7f) : 10 ** value;
    } else if (code === OPTION_IF_TSOFFSET && size >= 8) {
      const first = u32(block, o + 4);
      const second = u32(block, o + 8);
      const [high, low] = u32 === u32le ? [second, first] : [first, second];
      // Signed 64-bit seconds; offsets beyond 2^53 are not real capture times.
      offsetMs = ((high | 0) * 4294967296 + low) * 1000;
    }
    o += 4 + size + ((4 - (size % 4)) % 4);
  }
  return {
    linkType: u16(block, 8),
    snaplen: u32(block, 12),
    unitsPerMs: unitsPerSecond / 1000,
    offsetMs,
  };
}
