import type { Datagram } from '@gamemesh/core';
import {
  FFMPEG_LIVE,
  h264Encoder,
  opusEncoder,
  rtpOutput,
  runFfmpeg,
  testPatternInput,
  toneInput,
} from '../support/ffmpeg.js';
import { type RecordingRelay, startRecordingRelay } from '../support/relay.js';
import { startUdpDelayLine, type UdpDelayLine } from '../support/udp-delay-line.js';
import { startUdpSink, type UdpSink } from '../support/udp-sink.js';

/**
 * Runs ffmpeg as a real RTP sender on loopback and records what a proxy
 * would see: RTP through one recording relay and RTCP (ffmpeg sends it to
 * the port given as `rtcpport`) through another, both to a sink. Optional
 * hooks drop RTP datagrams (in the relay) or delay them (a delay line in
 * front of the relay).
 */

export type MediaKind = 'h264' | 'opus';

export interface FfmpegRtpOptions {
  readonly media: MediaKind;
  readonly seconds: number;
  /** Return false to drop an RTP datagram; `index` counts RTP datagrams from 0. */
  readonly dropRtp?: (data: Uint8Array, index: number) => boolean;
  readonly delayRtpMs?: (data: Uint8Array, index: number) => number;
}

export interface FfmpegRtpRecording {
  readonly rtp: Datagram[];
  readonly rtcp: Datagram[];
  /** RTP and RTCP merged in arrival order. */
  readonly all: Datagram[];
}

const MEDIA_ARGS: Record<MediaKind, readonly string[]> = {
  h264: [...testPatternInput('320x240', 30), ...h264Encoder(30)],
  opus: [...toneInput(), ...opusEncoder('64k')],
};

export async function recordFfmpegRtp(options: FfmpegRtpOptions): Promise<FfmpegRtpRecording> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const sink: UdpSink = await startUdpSink();
    closers.push(() => sink.close());
    let rtpIndex = 0;
    const dropRtp = options.dropRtp;
    const rtpRelay: RecordingRelay = await startRecordingRelay({
      upstreamPort: sink.port,
      ...(dropRtp === undefined
        ? {}
        : { filter: (d: Datagram) => d.direction !== 'forward' || dropRtp(d.data, rtpIndex++) }),
    });
    closers.push(() => rtpRelay.close());
    const rtcpRelay = await startRecordingRelay({ upstreamPort: sink.port });
    closers.push(() => rtcpRelay.close());
    let delayLine: UdpDelayLine | null = null;
    if (options.delayRtpMs !== undefined) {
      const line = await startUdpDelayLine({
        upstreamPort: rtpRelay.port,
        delayMs: options.delayRtpMs,
      });
      delayLine = line;
      closers.push(() => line.close());
    }
    const rtpPort = delayLine?.port ?? rtpRelay.port;
    await runFfmpeg([
      ...FFMPEG_LIVE,
      ...MEDIA_ARGS[options.media],
      ...rtpOutput(options.seconds, rtpPort, rtcpRelay.port),
    ]);
    await delayLine?.drain();
    // Let the last datagrams cross the relays.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const rtp = [...rtpRelay.datagrams];
    const rtcp = [...rtcpRelay.datagrams];
    const all = [...rtp, ...rtcp].sort((a, b) => a.at - b.at);
    return { rtp, rtcp, all };
  } finally {
    for (const close of closers.reverse()) await close();
  }
}
