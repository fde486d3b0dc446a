/**
 * Records sample.pcap, the capture `npm run inspect-sample` inspects: real sessions of
 * every built-in protocol plus UDP that is none of them, all running at the
 * same time on loopback under ONE tcpdump, each on its own ports. The
 * capture of all loopback UDP is then cut down to those ports, so traffic of
 * other programs never ends up in the sample. Run from the repository root,
 * after `npx tsc -b packages/protocols` (needs tcpdump with capture rights on
 * `lo`, ffmpeg with libx264 and libopus):
 *
 *   node --import tsx examples/captures/make-sample.ts
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hex } from '@gamemesh/core';
import {
  generateConnectToken,
  NetcodeClient,
  NetcodeServer,
} from '../../packages/protocols/src/netcode/index.js';
import { captureWith } from '../../packages/protocols/test/inspect/helpers/tcpdump.js';
import { messages } from '../../packages/protocols/test/kcp/vectors.js';
import { until } from '../../packages/protocols/test/netcode/helpers.js';
import {
  freeUdpPort,
  runRakNetSession,
} from '../../packages/protocols/test/raknet/raknet-session.js';
import {
  FFMPEG_LIVE,
  h264Encoder,
  opusEncoder,
  rtpOutput,
  runFfmpeg,
  testPatternInput,
  toneInput,
} from '../../packages/protocols/test/support/ffmpeg.js';
import { runKcpExchange } from '../../packages/protocols/test/support/kcp-peers.js';
import { runOtherUdpTraffic } from '../../packages/protocols/test/support/other-udp.js';
import { startUdpSink, type UdpSink } from '../../packages/protocols/test/support/udp-sink.js';
import { keepUdpPorts } from './pcap-ports.js';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, 'sample.pcap');
const KEY_FILE = join(here, 'sample.netcode-key');
const NETCODE_PROTOCOL_ID = 0x67616d656d657368n; // "gamemesh"
const NETCODE_CLIENT_ID = 1001n;
const MEDIA_SECONDS = '7'; // past ffmpeg's 5 s SR interval, so the clock of the dynamic PTs is estimated and jitter shows
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Ports whose datagrams belong in the sample. */
const ports = new Set<number>();

async function raknetSession(): Promise<string> {
  const serverPort = await freeUdpPort();
  ports.add(serverPort);
  const session = await runRakNetSession({ relay: false, serverPort, messages: 4, holdMs: 600 });
  return `raknet: client GUID ${session.clientGuid}, server 127.0.0.1:${serverPort}`;
}

async function kcpConversations(): Promise<string> {
  // conv 0x12345690: its low byte 0x90 reads as RTP V=2 (PROTOCOLS.md §5.2).
  const result = await runKcpExchange({
    conversations: [
      { conv: 0x12345690, messages: messages('sample-a') },
      { conv: 42, messages: messages('sample-b') },
    ],
    onBound: ({ relay, server }) => {
      ports.add(relay);
      ports.add(server);
    },
  });
  return `kcp: conv 305419920 and 42 through a relay, echoed ${result.echoed.join('/')}`;
}

async function netcodeSession(privateKey: Uint8Array): Promise<string> {
  const server = new NetcodeServer({ privateKey, protocolId: NETCODE_PROTOCOL_ID, maxClients: 4 });
  let client: NetcodeClient | null = null;
  try {
    const bound = await server.start();
    ports.add(Number(bound.slice(bound.lastIndexOf(':') + 1)));
    const minted = generateConnectToken({
      clientId: NETCODE_CLIENT_ID,
      protocolId: NETCODE_PROTOCOL_ID,
      privateKey,
      serverAddresses: [bound],
      expireSeconds: 300,
      timeoutSeconds: 10,
      userData: new TextEncoder().encode('gamemesh sample capture'),
    });
    client = new NetcodeClient({ connectToken: minted.bytes });
    const connected = once(server, 'connect');
    await client.connect();
    const [info] = await Promise.race([
      connected,
      sleep(5000).then(() => {
        throw new Error('netcode: no connect within 5 s');
      }),
    ]);
    // The server connects on the response; the client only on the server's first keep-alive.
    await until(() => client?.state === 'connected', 3000, 'netcode client connected');
    for (let i = 0; i < 5; i++) {
      client.send(new TextEncoder().encode(`client payload ${i}`));
      server.sendPayload(info.clientIndex, new TextEncoder().encode(`server payload ${i}`));
      await sleep(100);
    }
    await sleep(500);
    const gone = once(server, 'disconnect');
    await client.disconnect();
    await Promise.race([gone, sleep(3000)]);
    await sleep(300);
    return `netcode: client id ${NETCODE_CLIENT_ID}, server ${bound}`;
  } finally {
    await client?.close();
    await server.close();
  }
}

/** ffmpeg: H.264 160x120 and Opus, each RTP with RTCP (SR, SDES, BYE) to its own sink ports. */
async function media(): Promise<string> {
  const sinks: UdpSink[] = [];
  try {
    const sinkPort = async (): Promise<number> => {
      const sink = await startUdpSink();
      sinks.push(sink);
      ports.add(sink.port);
      return sink.port;
    };
    const video = await sinkPort();
    const videoRtcp = await sinkPort();
    const audio = await sinkPort();
    const audioRtcp = await sinkPort();
    await runFfmpeg(
      [
        ...FFMPEG_LIVE,
        ...testPatternInput('160x120', 15),
        ...toneInput(),
        ...['-map', '0:v', ...h264Encoder(15), ...rtpOutput(MEDIA_SECONDS, video, videoRtcp)],
        ...['-map', '1:a', ...opusEncoder('32k'), ...rtpOutput(MEDIA_SECONDS, audio, audioRtcp)],
      ],
      30_000,
    );
    await sleep(200);
    return `rtp: ffmpeg H.264 -> :${video} (RTCP :${videoRtcp}), Opus -> :${audio} (RTCP :${audioRtcp}); sinks got ${sinks.map((s) => s.received()).join('/')}`;
  } finally {
    await Promise.all(sinks.map((sink) => sink.close()));
  }
}

async function otherUdp(): Promise<string> {
  const result = await runOtherUdpTraffic({ randomFlows: 2, seed: 0x5a3b1e });
  for (const port of [
    result.ports.dns,
    result.ports.stun,
    result.ports.zeros,
    ...result.ports.random,
  ])
    ports.add(port);
  return `other: DNS :${result.ports.dns} (${result.dnsAnswers} answers), STUN :${result.ports.stun}, random :${result.ports.random.join(',:')}, zeros :${result.ports.zeros}`;
}

const work = await mkdtemp(join(tmpdir(), 'gm-sample-'));
try {
  const raw = join(work, 'all-loopback-udp.pcap');
  const privateKey = new Uint8Array(randomBytes(32));
  const lines = await captureWith({ file: raw, filter: 'udp and host 127.0.0.1' }, async () => {
    const done = await Promise.all([
      raknetSession(),
      kcpConversations(),
      netcodeSession(privateKey),
      media(),
      otherUdp(),
    ]);
    // Let the last datagrams reach tcpdump before it is stopped.
    await sleep(500);
    return done;
  });
  for (const line of lines) console.log(line);
  const { kept, dropped } = keepUdpPorts(raw, SAMPLE, ports);
  await writeFile(KEY_FILE, `${hex(privateKey)}\n`);
  console.log(
    `wrote ${SAMPLE}: ${kept} datagrams (${dropped} of other loopback traffic left out), ${(await stat(SAMPLE)).size} bytes`,
  );
  console.log(`wrote ${KEY_FILE}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
