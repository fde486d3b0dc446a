import { spawn } from 'node:child_process';
import type { Datagram } from '@gamemesh/core';
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
  h264: [
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x240:rate=30',
    '-c:v',
    'libx264',
    '-tune',
    'zerolatency',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-g',
    '30',
  ],
  // 960 samples per input frame = one 20 ms Opus packet each, so -re paces packets evenly.
  opus: [
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000:samples_per_frame=960',
    '-c:a',
    'libopus',
    '-b:a',
    '64k',
  ],
};

export async function recordFfmpegRtp(options: FfmpegRtpOptions): Promise<FfmpegRtpRecording> {
  const closers: (() => Promise<void>)[] = [];
  let child: ReturnType<typeof spawn> | null = null;
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
    const url = `rtp://127.0.0.1:${rtpPort}?rtcpport=${rtcpRelay.port}&pkt_size=1200`;
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-re',
      ...MEDIA_ARGS[options.media],
      '-t',
      String(options.seconds),
      '-rtpflags',
      'send_bye',
      '-f',
      'rtp',
      url,
    ];
    const started = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      started.once('error', reject);
      started.once('exit', (exitCode) => resolve(exitCode));
    });
    child = null;
    if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${stderr}`);
    await delayLine?.drain();
    // Let the last datagrams cross the relays.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const rtp = [...rtpRelay.datagrams];
    const rtcp = [...rtcpRelay.datagrams];
    const all = [...rtp, ...rtcp].sort((a, b) => a.at - b.at);
    return { rtp, rtcp, all };
  } finally {
    if (child !== null && child.exitCode === null) child.kill('SIGKILL');
    for (const close of closers.reverse()) await close();
  }
}
