import { u32be, u32le } from '@gamemesh/core';
import { type InspectError, inspectError } from '../errors.js';
import type { CaptureCursor } from './cursor.js';
import { type FrameSink, MAX_RECORD_BYTES } from './frame.js';

/**
 * Classic libpcap files (draft-ietf-opsawg-pcap): a 24-byte file header, then
 * 16-byte record headers each followed by the captured bytes. The magic
 * number's byte order is the file's byte order; 0xa1b23c4d marks nanosecond
 * timestamps.
 */

export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;

const FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;
// libpcap's MAXIMUM_SNAPLEN: a header claiming less than this is still believed for records.
const LIBPCAP_MAXIMUM_SNAPLEN = 262144;

export interface PcapHeader {
  readonly littleEndian: boolean;
  readonly nanoseconds: boolean;
  readonly snaplen: number;
  readonly linkType: number;
}

export async function readPcap(
  cursor: CaptureCursor,
  onHeader: (header: PcapHeader) => void,
  onFrame: FrameSink,
): Promise<InspectError | null> {
  const available = await cursor.ensure(FILE_HEADER_BYTES);
  if (available < FILE_HEADER_BYTES) {
    return inspectError(
      'GM_INSPECT_TRUNCATED',
      `pcap file header needs ${FILE_HEADER_BYTES} bytes, ${available} remain`,
      cursor.offset,
    );
  }
  const head = cursor.view(FILE_HEADER_BYTES);
  const magicLe = u32le(head, 0);
  const littleEndian = magicLe === PCAP_MAGIC_MICROS || magicLe === PCAP_MAGIC_NANOS;
  const u32 = littleEndian ? u32le : u32be;
  const magic = u32(head, 0);
  const header: PcapHeader = {
    littleEndian,
    nanoseconds: magic === PCAP_MAGIC_NANOS,
    snaplen: u32(head, 16),
    // The low 16 bits are the link type; the high bits carry FCS information.
    linkType: u32(head, 20) & 0xffff,
  };
  onHeader(header);
  cursor.skip(FILE_HEADER_BYTES);
  const fractionPerMs = header.nanoseconds ? 1e6 : 1e3;
  const recordLimit = Math.min(Math.max(header.snaplen, LIBPCAP_MAXIMUM_SNAPLEN), MAX_RECORD_BYTES);

  for (;;) {
    const offset = cursor.offset;
    let buffered = cursor.available;
    if (buffered < RECORD_HEADER_BYTES) {
      buffered = await cursor.ensure(RECORD_HEADER_BYTES);
      if (buffered === 0) return null;
      if (buffered < RECORD_HEADER_BYTES) {
        return inspectError(
          'GM_INSPECT_TRUNCATED',
          `record header needs ${RECORD_HEADER_BYTES} bytes, ${buffered} remain`,
          offset,
        );
      }
    }
    let record = cursor.view(RECORD_HEADER_BYTES);
    const seconds = u32(record, 0);
    const fraction = u32(record, 4);
    const capturedLength = u32(record, 8);
    const originalLength = u32(record, 12);
    if (capturedLength > recordLimit) {
      return inspectError(
        'GM_INSPECT_BAD_RECORD',
        `record claims ${capturedLength} captured bytes, more than the limit ${recordLimit}`,
        offset,
      );
    }
    const total = RECORD_HEADER_BYTES + capturedLength;
    if (buffered < total) {
      buffered = await cursor.ensure(total);
      if (buffered < total) {
        return inspectError(
          'GM_INSPECT_TRUNCATED',
          `record needs ${total} bytes (16-byte header + ${capturedLength} captured), ${buffered} remain`,
          offset,
        );
      }
    }
    record = cursor.view(total);
    onFrame({
      linkType: header.linkType,
      at: seconds * 1000 + fraction / fractionPerMs,
      data: record.subarray(RECORD_HEADER_BYTES, total),
      originalLength,
      offset,
    });
    cursor.skip(total);
  }
}
