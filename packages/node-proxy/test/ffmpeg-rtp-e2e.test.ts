import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SessionView } from '../src/sessions.js';
import { loopbackPortModeArgs, type StartedProxy, startProxy, waitFor } from './support/proxy.js';
import { importSiblingTest } from './support/sibling-tests.js';

/**
 * ffmpeg as a real RTP sender (H.264 and Opus, each with its RTCP and
 * `-rtpflags send_bye`) to the proxy's port-mode listener, forwarded to a
 * UDP sink standing in for the pod. Nothing is lost on loopback, so the
 * proxy must report loss 0 for both streams, close each stream's RTCP
 * session with `bye` when ffmpeg's BYE crosses, close the RTP session of the
 * same SSRC (a flow of its own) with `bye` too, and have forwarded exactly
 * what the sink got.
 */

type FfmpegModule = typeof import('../../protocols/test/support/ffmpeg.js');
type SinkModule = typeof import('../../protocols/test/support/udp-sink.js');

test('ffmpeg H.264 + Opus through the proxy: loss 0, RTCP BYE closes RTCP and RTP with bye, sink got every forwarded datagram', async () => {
  const ffmpeg = await importSiblingTest<FfmpegModule>('packages/protocols', 'support/ffmpeg');
  const { startUdpSink } = await importSiblingTest<SinkModule>(
    'packages/protocols',
    'support/udp-sink',
  );
  const sink = await startUdpSink();
  let proxy: StartedProxy | null = null;
  try {
    proxy = await startProxy(loopbackPortModeArgs(sink.port));
    const port = proxy.running.proxy.listenerPorts().default!;
    const admin = `http://${proxy.running.admin}`;
    // One run, two outputs: RTP and RTCP of both streams go to the listener (distinct source ports).
    await ffmpeg.runFfmpeg(
      [
        ...ffmpeg.FFMPEG_LIVE,
        ...ffmpeg.testPatternInput('320x240', 30),
        ...ffmpeg.toneInput(),
        '-map',
        '0:v',
        ...ffmpeg.h264Encoder(30),
        ...ffmpeg.rtpOutput(3, port, port),
        '-map',
        '1:a',
        ...ffmpeg.opusEncoder('64k'),
        ...ffmpeg.rtpOutput(3, port, port),
      ],
      30_000,
    );
    const fetchSessions = async (query: string) =>
      ((await (await fetch(`${admin}/sessions?${query}`)).json()) as { sessions: SessionView[] })
        .sessions;
    let rtcp: SessionView[] = [];
    let rtp: SessionView[] = [];
    const allClosed = (sessions: SessionView[]) =>
      sessions.length === 2 && sessions.every((s) => s.state === 'closed');
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      rtcp = await fetchSessions('protocol=rtcp');
      rtp = await fetchSessions('protocol=rtp');
      if (allClosed(rtcp) && allClosed(rtp)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.is(rtp.length, 2, `two RTP sessions: ${JSON.stringify(rtp)}`);
    assert.is.not(rtp[0]!.key, rtp[1]!.key, 'two SSRCs');
    for (const session of rtp) {
      // Long before the idle backstop: the RTCP flow's BYE closed the RTP flow of its SSRC.
      assert.is(session.state, 'closed', `${session.key} RTP closed`);
      assert.is(session.reason, 'bye', `${session.key} RTP closed by its RTCP BYE`);
      assert.is(session.lossRatio, 0, `${session.key}: no loss on loopback`);
      assert.is(session.stats.lost, 0);
      assert.is(session.stats.received, session.stats.expected);
      assert.ok(session.packets.forward > 50, `${session.key}: ${session.packets.forward} packets`);
    }
    // ffmpeg sends each stream's RTCP from its own socket: a flow of its own, keyed by the same SSRC.
    assert.equal(
      rtcp.map((s) => s.key).sort(),
      rtp.map((s) => s.key).sort(),
      'one RTCP session per stream',
    );
    for (const session of rtcp) {
      assert.is(session.state, 'closed', `${session.key} RTCP closed`);
      assert.is(session.reason, 'bye', `${session.key} closed by the RTCP BYE`);
      assert.is(session.stats.byeCount, 1);
    }
    const all = await fetchSessions('');
    const forwarded = all.reduce((n, s) => n + s.packets.forward, 0);
    assert.is(all.length, 4, 'no other flows');
    await waitFor('the sink drains', () => sink.received() >= forwarded, 2000);
    assert.is(sink.received(), forwarded, 'the sink received every datagram the proxy forwarded');
  } finally {
    await proxy?.running.close();
    await sink.close();
  }
});

test.run();
