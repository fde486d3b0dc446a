import { fuzzProtocol } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRtpFamily, parseRtcpCompound, parseRtpHeader } from '../../src/rtp/index.js';
import { type FfmpegRtpRecording, recordFfmpegRtp } from './ffmpeg-rtp.js';

/** Both protocols fuzzed for 1M datagrams each, seeded with real ffmpeg RTP and RTCP. */

const ITERATIONS = 1_000_000;
let seeds: Uint8Array[] = [];

test.before(async () => {
  const recordings: FfmpegRtpRecording[] = await Promise.all([
    recordFfmpegRtp({ media: 'h264', seconds: 1 }),
    recordFfmpegRtp({ media: 'opus', seconds: 1 }),
  ]);
  seeds = recordings.flatMap((r) => [...r.rtp.slice(0, 40), ...r.rtcp].map((d) => d.data));
});

const extra = (data: Uint8Array): void => {
  parseRtcpCompound(data);
  parseRtpHeader(data);
};

for (const name of ['rtp', 'rtcp'] as const) {
  test(`fuzz ${name}: ${ITERATIONS} datagrams, no throw, every reason documented`, () => {
    assert.ok(seeds.length > 40, `seeds: ${seeds.length}`);
    const protocol = createRtpFamily()[name];
    const report = fuzzProtocol(protocol, {
      seeds,
      iterations: ITERATIONS,
      seed: name === 'rtp' ? 3550 : 5506,
      timeBudgetMs: 20_000,
      extra,
    });
    assert.equal(report.failures, []);
    assert.equal(report.undocumentedReasons, []);
    assert.ok(report.iterations >= ITERATIONS, `reached ${report.iterations}`);
    assert.ok((report.verdicts.match ?? 0) > 0, 'mutated real seeds still reach the match path');
  });
}

test.run();
