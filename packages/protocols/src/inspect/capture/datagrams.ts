import { openFileSource } from './cursor.js';
import { decodeUdp } from './ip.js';
import { locateIp } from './link.js';
import { type CaptureSummary, readCapture } from './reader.js';

/** One UDP datagram of a capture, copied out of the reader's buffer. */
export interface CapturedDatagram {
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationAddress: string;
  readonly destinationPort: number;
  readonly payload: Uint8Array;
  /** Capture time, ms since the Unix epoch. */
  readonly at: number;
}

/**
 * Every UDP datagram of a capture file, in order, held in memory. For tools
 * that need random access to a small capture (benchmarks, differential
 * tests); `inspectCapture` is the streaming path for captures of any size.
 */
export async function readUdpDatagrams(
  path: string,
): Promise<{ datagrams: CapturedDatagram[]; capture: CaptureSummary }> {
  const datagrams: CapturedDatagram[] = [];
  const source = await openFileSource(path);
  const capture = await readCapture(source, (frame) => {
    const link = locateIp(frame.linkType, frame.data);
    if (typeof link === 'string') return;
    const packet = decodeUdp(frame.data, link, frame.data.length < frame.originalLength);
    if (typeof packet === 'string') return;
    datagrams.push({
      sourceAddress: packet.sourceAddress,
      sourcePort: packet.sourcePort,
      destinationAddress: packet.destinationAddress,
      destinationPort: packet.destinationPort,
      payload: packet.payload.slice(),
      at: frame.at,
    });
  }).finally(() => source.close());
  return { datagrams, capture };
}
