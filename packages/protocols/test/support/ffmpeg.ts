import { spawn } from 'node:child_process';

/**
 * ffmpeg as a real RTP sender: the argument pieces every RTP test and the
 * sample capture put together, and one run of the process. Inputs are lavfi
 * test sources, so no media files are needed.
 */

/** Quiet, no stdin, inputs read at their native rate so packets are paced like a live stream. */
export const FFMPEG_LIVE = ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re'] as const;

/** The lavfi colour-bar test pattern at `size` (`WxH`) and `rate` frames per second. */
export function testPatternInput(size: string, rate: number): string[] {
  return ['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${rate}`];
}

/** A 440 Hz tone; 960 samples per input frame = one 20 ms Opus packet each, so -re paces packets evenly. */
export function toneInput(): string[] {
  return ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:samples_per_frame=960'];
}

/** H.264 for low latency, a key frame every `gop` frames. */
export function h264Encoder(gop: number): string[] {
  return [
    '-c:v',
    'libx264',
    '-tune',
    'zerolatency',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(gop),
  ];
}

export function opusEncoder(bitrate: string): string[] {
  return ['-c:a', 'libopus', '-b:a', bitrate];
}

/**
 * One RTP output of `seconds` to 127.0.0.1:`rtpPort`, with its RTCP (SR,
 * SDES, and a BYE at the end) to `rtcpPort`. `-t` belongs to the output:
 * an input-side -t would leave a second output of the same run going forever.
 */
export function rtpOutput(seconds: number | string, rtpPort: number, rtcpPort: number): string[] {
  return [
    '-t',
    String(seconds),
    '-rtpflags',
    'send_bye',
    '-f',
    'rtp',
    `rtp://127.0.0.1:${rtpPort}?rtcpport=${rtcpPort}&pkt_size=1200`,
  ];
}

/**
 * Runs ffmpeg with `args` to its end and throws unless it exits with 0
 * (the error carries its stderr). With `timeoutMs`, a run that takes longer
 * throws too. The process is killed whenever this does not return normally.
 */
export async function runFfmpeg(args: readonly string[], timeoutMs?: number): Promise<void> {
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let timer: NodeJS.Timeout | undefined;
  try {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (exitCode) => resolve(exitCode));
    });
    const code = await (timeoutMs === undefined
      ? exited
      : Promise.race([
          exited,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`ffmpeg did not finish within ${timeoutMs / 1000} s`)),
              timeoutMs,
            );
          }),
        ]));
    if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${stderr}`);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
