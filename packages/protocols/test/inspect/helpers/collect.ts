import { memorySource } from '../../../src/inspect/capture/cursor.js';
import { decodeUdp, endpoint } from '../../../src/inspect/capture/ip.js';
import { locateIp } from '../../../src/inspect/capture/link.js';
import { type CaptureSummary, readCapture } from '../../../src/inspect/capture/reader.js';
import type { SkipReason } from '../../../src/inspect/errors.js';

export interface Decoded {
  readonly at: number;
  readonly src: string;
  readonly dst: string;
  readonly payload: Uint8Array;
}

/** Reads a capture held in memory through the real reader and decoders. */
export async function decodeAll(
  file: Uint8Array,
  chunkBytes?: number,
): Promise<{
  datagrams: Decoded[];
  skipped: Partial<Record<SkipReason, number>>;
  summary: CaptureSummary;
}> {
  const datagrams: Decoded[] = [];
  const skipped: Partial<Record<SkipReason, number>> = {};
  const summary = await readCapture(
    memorySource(file),
    (frame) => {
      const link = locateIp(frame.linkType, frame.data);
      const packet =
        typeof link === 'string'
          ? link
          : decodeUdp(frame.data, link, frame.data.length < frame.originalLength);
      if (typeof packet === 'string') {
        skipped[packet] = (skipped[packet] ?? 0) + 1;
        return;
      }
      datagrams.push({
        at: frame.at,
        src: endpoint(packet.sourceAddress, packet.sourcePort),
        dst: endpoint(packet.destinationAddress, packet.destinationPort),
        payload: packet.payload.slice(),
      });
    },
    chunkBytes === undefined ? {} : { chunkBytes },
  );
  return { datagrams, skipped, summary };
}
