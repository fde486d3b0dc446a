import { createSocket } from 'node:dgram';

/**
 * The far end of RTP through the proxy, and the ground truth the proxy's
 * tracker is compared with: per SSRC, from the datagrams that reached it,
 * RFC 3550 A.3 loss (expected = extended highest seq - lowest seq + 1) and
 * A.8 interarrival jitter on its own arrival clock. The sink keeps its own
 * simple arithmetic (no probation, lowest rather than first sequence
 * number) so it does not share a mistake with the tracker; the jitter rule
 * is the tracker's documented one: only a packet with a new timestamp
 * updates it (the packets of one video frame share a timestamp).
 */
export interface RtpTruthSink {
  readonly port: number;
  streams(): Map<number, RtpStreamTruth>;
  /** RTCP datagrams received (not part of any stream's counts). */
  rtcpPackets(): number;
  close(): Promise<void>;
}

export interface RtpStreamTruth {
  readonly ssrc: number;
  readonly payloadType: number;
  readonly received: number;
  readonly expected: number;
  readonly lost: number;
  readonly lossRatio: number;
  /** Null when `clockRates` does not name the payload type. */
  readonly jitterMs: number | null;
}

interface StreamState {
  payloadType: number;
  received: number;
  lowestSeq: number;
  highestSeq: number;
  lastArrivalMs: number;
  lastTimestamp: number;
  /** In RTP timestamp units, as RFC 3550 keeps it. */
  jitter: number;
}

const SEQ_MOD = 65_536;

/** `seq` extended to the cycle nearest `reference` (the highest extended sequence number so far). */
function extend(seq: number, reference: number): number {
  const delta = ((seq - (reference % SEQ_MOD) + SEQ_MOD + SEQ_MOD / 2) % SEQ_MOD) - SEQ_MOD / 2;
  return reference + delta;
}

function isRtcp(data: Buffer): boolean {
  return data.length >= 2 && data[1]! >= 192 && data[1]! <= 223;
}

export async function startRtpTruthSink(
  host: string,
  clockRates: Readonly<Record<number, number>>,
): Promise<RtpTruthSink> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const streams = new Map<number, StreamState>();
  let rtcp = 0;
  socket.on('message', (data: Buffer) => {
    const arrivalMs = performance.now();
    if (isRtcp(data)) {
      rtcp++;
      return;
    }
    if (data.length < 12 || data[0]! >> 6 !== 2) return;
    const payloadType = data[1]! & 0x7f;
    const seq = data.readUInt16BE(2);
    const timestamp = data.readUInt32BE(4);
    const ssrc = data.readUInt32BE(8);
    const stream = streams.get(ssrc);
    if (stream === undefined) {
      // The first packet's sequence number is placed a cycle up so reordering below it stays positive.
      streams.set(ssrc, {
        payloadType,
        received: 1,
        lowestSeq: seq + SEQ_MOD,
        highestSeq: seq + SEQ_MOD,
        lastArrivalMs: arrivalMs,
        lastTimestamp: timestamp,
        jitter: 0,
      });
      return;
    }
    stream.received++;
    const extended = extend(seq, stream.highestSeq);
    stream.highestSeq = Math.max(stream.highestSeq, extended);
    stream.lowestSeq = Math.min(stream.lowestSeq, extended);
    const hz = clockRates[payloadType];
    if (hz === undefined || timestamp === stream.lastTimestamp) return;
    const arrivalDelta = ((arrivalMs - stream.lastArrivalMs) * hz) / 1000;
    const timestampDelta = (timestamp - stream.lastTimestamp) | 0;
    stream.jitter += (Math.abs(arrivalDelta - timestampDelta) - stream.jitter) / 16;
    stream.lastArrivalMs = arrivalMs;
    stream.lastTimestamp = timestamp;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve());
  });
  return {
    port: socket.address().port,
    streams: () => {
      const out = new Map<number, RtpStreamTruth>();
      for (const [ssrc, s] of streams) {
        const expected = s.highestSeq - s.lowestSeq + 1;
        const hz = clockRates[s.payloadType];
        out.set(ssrc, {
          ssrc,
          payloadType: s.payloadType,
          received: s.received,
          expected,
          lost: expected - s.received,
          lossRatio: (expected - s.received) / expected,
          jitterMs: hz === undefined ? null : (s.jitter * 1000) / hz,
        });
      }
      return out;
    },
    rtcpPackets: () => rtcp,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
