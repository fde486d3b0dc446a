import type { Datagram } from '@gamemesh/core';
import { createRandom } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RAKNET_REASONS } from '../../src/raknet/reasons.js';
import { kcp2kExchange, messages } from '../kcp/vectors.js';
import { recordSession } from '../netcode/helpers.js';
import { runRakNetSession } from '../raknet/raknet-session.js';
import { recordFfmpegRtp } from '../rtp/ffmpeg-rtp.js';
import { runKcpExchange } from '../support/kcp-peers.js';
import { recordStunExchange, stunBindingRequest } from '../support/other-udp.js';
import { aloneVerdict, asNewFlow, builtin, classifyWithBuiltins, probeTrail } from './classify.js';
import { genshinFraming } from './genshin-framing.js';

// PROTOCOLS.md §5.2, one test per false-positive pair: real traffic of one
// protocol, the full built-in classifier labels it right, and the protocol it
// resembles rejects it (or never matches within the window) with a reason code.

const GAME_PROTOCOLS = ['raknet', 'kcp', 'netcode', 'rtp', 'rtcp'];

/** Runs a real peer once per file, on first use. */
function once<T>(record: () => Promise<T>): () => Promise<T> {
  let recording: Promise<T> | null = null;
  return () => (recording ??= record());
}

// conv low byte 0x80..0xBF: byte 0 reads as RTP V=2.
const RTP_LOOKING_CONVS = [0x12345690, 0x000000bf, 0xcafe0080];
// conv low byte 0x00..0x03 (STUN / netcode request), 0x01/0x02/0x05/0x07 (RakNet offline ids).
const FIRST_BYTE_CONVS = [0x01000000, 0x00000001, 0x00000002, 0x00abcd03, 0x00000005, 0x00000007];

const kcpRtpLooking = once(() =>
  runKcpExchange({
    conversations: RTP_LOOKING_CONVS.map((conv, i) => ({
      conv,
      messages: messages(`rtp-looking-${i}`),
    })),
  }),
);
const kcpFirstBytes = once(() =>
  runKcpExchange({
    conversations: FIRST_BYTE_CONVS.map((conv, i) => ({
      conv,
      messages: messages(`first-byte-${i}`),
    })),
  }),
);
const raknetSession = once(() => runRakNetSession({ relay: true, holdMs: 300 }));
const netcodeSession = once(() => recordSession(4, 4242n));
const opus = once(() => recordFfmpegRtp({ media: 'opus', seconds: 2 }));

function assertNeverMatches(
  protocol: string,
  datagrams: readonly Datagram[],
  what: string,
): string {
  const alone = aloneVerdict(builtin(protocol), datagrams);
  assert.not.ok(
    alone.label.startsWith(`${protocol}/`),
    `${protocol} alone matched ${what} (${alone.reason})`,
  );
  assert.ok(
    alone.reason in builtin(protocol).reasons,
    `${protocol} reason ${alone.reason} is documented`,
  );
  return alone.reason;
}

const convOf = (d: Uint8Array) => (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0;

test('KCP looks like RTP: real node-kcp flows with conv low byte 0x80..0xBF are kcp; rtp alone never matches (constant "sequence")', async () => {
  const run = await kcpRtpLooking();
  run.flows.forEach((flow, i) => {
    assert.is(run.echoed[i], 12, 'every message echoed by the real peers');
    const first = flow[0]!.data;
    assert.is(first[0]! >> 6, 2, 'byte 0 reads as RTP version 2');
    assert.is(classifyWithBuiltins(flow).label, 'kcp/raw');
    // bytes 2..3 (RTP's sequence number) are the conv's high bytes: the same in every datagram.
    assert.is(new Set(flow.map((d) => `${d.data[2]}.${d.data[3]}`)).size, 1);
    const reason = assertNeverMatches('rtp', flow, `conv 0x${RTP_LOOKING_CONVS[i]!.toString(16)}`);
    assert.ok(
      ['candidate', 'bad_padding', 'bad_csrc_length', 'bad_extension_length'].includes(reason),
      reason,
    );
    // Mid-session pickup (no first PUSH of the conversation): still never RTP.
    assertNeverMatches('rtp', asNewFlow(flow.slice(10)), 'mid-session');
    assert.not.ok(classifyWithBuiltins(asNewFlow(flow.slice(10))).label.startsWith('rtp'));
  });
});

test('RakNet connected datagrams look like RTP: real raknet-native flow is raknet, also mid-session; rtp alone never matches; a lone NAK decides nothing', async () => {
  const session = await raknetSession();
  const flow = session.datagrams;
  const full = classifyWithBuiltins(flow);
  assert.is(full.label, 'raknet/offline');
  const connected = flow.findIndex((d) => (d.data[0]! & 0xe0) === 0x80);
  assert.ok(connected > 0, 'connected data datagrams follow the handshake');
  const midSession = asNewFlow(flow.slice(connected));
  assert.ok(
    midSession.slice(0, 8).some((d) => d.data[0]! >> 6 === 2),
    'data datagrams read as RTP V=2',
  );
  const picked = classifyWithBuiltins(midSession);
  assert.ok(picked.label.startsWith('raknet/'), picked.label);
  assert.is((picked.classification as { reason: string }).reason, 'data_sequence');
  assertNeverMatches('rtp', midSession, 'connected RakNet datagrams');
  assertNeverMatches(
    'rtp',
    asNewFlow(flow.slice(connected).filter((d) => (d.data[0]! & 0xe0) === 0x80)),
    'data datagrams only',
  );
  // NAK (0xA0 = V=2, P=1 in RTP terms) for a sequence number the server really sent.
  const seq = midSession
    .find((d) => d.direction === 'reverse' && (d.data[0]! & 0xe0) === 0x80)!
    .data.subarray(1, 4);
  const nak = Uint8Array.of(0xa0, 0x00, 0x02, 0x01, ...seq, 0x00, ...seq, ...seq);
  const lone: Datagram = { data: nak, direction: 'forward', at: 0 };
  const raknetSays = builtin('raknet').probe(lone, []);
  assert.is(raknetSays.verdict, 'need-more');
  assert.is(raknetSays.reason, 'ack_need_more');
  assert.is(classifyWithBuiltins([lone]).label, 'pending', 'not decided on one NAK');
  assert.not.equal(builtin('rtp').probe(lone, []).verdict, 'match');
});

test('netcode looks like RTP: real encrypted packets (challenge 0x82, keep-alives, payloads) are never rtp', async () => {
  const { datagrams } = await netcodeSession();
  assert.is(classifyWithBuiltins(datagrams).label, 'netcode/1.02');
  const challenge = datagrams.find((d) => d.data[0] === 0x82)!;
  assert.ok(challenge !== undefined, 'the server challenge has prefix 0x82');
  assert.is(challenge.data.length, 333);
  assert.is(challenge.data[0]! >> 6, 2, 'prefix 0x82 reads as RTP V=2, CC=2');
  // The server's side from its challenge on, as a flow picked up mid-session.
  const fromChallenge = asNewFlow(datagrams.slice(datagrams.indexOf(challenge)));
  assertNeverMatches('rtp', fromChallenge, 'netcode from the challenge');
  const rtpLooking = datagrams.filter((d) => d.data[0]! >= 0x81 && d.data[0]! <= 0x86);
  assertNeverMatches('rtp', asNewFlow(rtpLooking), 'netcode packets with prefixes 0x81..0x86');
  const picked = classifyWithBuiltins(fromChallenge);
  assert.not.ok(picked.label.startsWith('rtp'), picked.label);
  assert.ok(
    picked.label === 'netcode/encrypted' || picked.label.startsWith('unknown'),
    picked.label,
  );
});

test('netcode vs RakNet: 0x12/0x13/0x14 prefixes and the 0x00 request are not RakNet without the magic; RakNet offline ids are not netcode', async () => {
  const { datagrams } = await netcodeSession();
  const raknet = builtin('raknet');
  const overlapping = datagrams.filter((d) => [0x12, 0x13, 0x14].includes(d.data[0]!));
  assert.ok(
    overlapping.some((d) => d.data[0] === 0x13),
    'client response 0x13 seen',
  );
  assert.ok(
    overlapping.some((d) => d.data[0] === 0x14),
    'server keep-alive 0x14 seen',
  );
  for (const d of overlapping) {
    const result = raknet.probe(d, []);
    assert.is(result.verdict, 'no', `prefix 0x${d.data[0]!.toString(16)}`);
    assert.ok(result.reason in RAKNET_REASONS);
  }
  assert.is(
    raknet.probe(
      { ...datagrams[0]!, data: Uint8Array.of(0x12, ...new Array<number>(40).fill(7)) },
      [],
    ).reason,
    'magic_missing',
  );
  const request = datagrams[0]!;
  assert.is(request.data.length, 1078);
  assert.is(raknet.probe(request, []).verdict, 'no', 'the 1078-byte request (0x00) is not RakNet');
  // RakPeer treats length <= 2 as offline: the probe rejects such datagrams, netcode never sees 2-byte packets.
  assert.is(raknet.probe({ ...request, data: Uint8Array.of(0x00, 0x00) }, []).reason, 'too_short');
  assertNeverMatches('raknet', datagrams, 'the whole netcode flow');
  assertNeverMatches('raknet', asNewFlow(datagrams.slice(1)), 'netcode after the request');
  // And the other way: real RakNet offline handshake datagrams are not netcode.
  const rak = (await raknetSession()).datagrams;
  const offline = rak.filter((d) => d.data[0]! < 0x20);
  assert.ok(offline.length >= 6, 'ping, pong, request/reply 1 and 2');
  const netcode = builtin('netcode');
  for (const d of offline)
    assert.is(netcode.probe(d, []).verdict, 'no', `RakNet 0x${d.data[0]!.toString(16)}`);
  assert.is(classifyWithBuiltins(rak).label, 'raknet/offline');
});

test('KCP vs RakNet/netcode/STUN by first byte: conv low byte 0x00..0x03, 0x05, 0x07 is kcp; RakNet and netcode reject it; STUN is not KCP', async () => {
  const run = await kcpFirstBytes();
  const raknet = builtin('raknet');
  const netcode = builtin('netcode');
  run.flows.forEach((flow, i) => {
    const conv = FIRST_BYTE_CONVS[i]!;
    assert.is(run.echoed[i], 12);
    assert.is(flow[0]!.data[0], conv & 0xff);
    const full = classifyWithBuiltins(flow);
    assert.is(full.label, 'kcp/raw', `conv 0x${conv.toString(16)}`);
    assert.is(full.decidedAt, 0, 'the first PUSH decides');
    const raknetFirst = raknet.probe(flow[0]!, []);
    assert.is(raknetFirst.verdict, 'no');
    if ([1, 2, 5, 7].includes(conv & 0xff)) assert.is(raknetFirst.reason, 'magic_missing');
    assertNeverMatches('raknet', flow, `conv 0x${conv.toString(16)}`);
    const netcodeFirst = netcode.probe(flow[0]!, []);
    assert.is(netcodeFirst.verdict, 'no');
    // Prefix high nibble 0 = no sequence bytes; 7 is no packet type.
    const expected =
      { 0: 'request_bad_size', 7: 'bad_packet_type' }[conv & 0xff] ?? 'bad_sequence_bytes';
    assert.is(netcodeFirst.reason, expected);
  });
  const stun = await recordStunExchange(createRandom(7).bytes(12));
  assert.equal(
    stun.map((d) => d.data.length),
    [20, 32],
  );
  const kcp = builtin('kcp');
  for (const d of stun) assert.is(kcp.probe(d, []).verdict, 'no', `STUN ${d.data.length} bytes`);
  assert.is(classifyWithBuiltins(stun).label, 'unknown(no_protocol_matched)');
  // A STUN request whose transaction id starts like a KCP header is still not KCP.
  const tricky = stunBindingRequest(Uint8Array.of(0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  assert.is(kcp.probe({ data: tricky, direction: 'forward', at: 0 }, []).verdict, 'no');
});

test('kcp2k is kcp/kcp2k; Genshin-style 28-byte-header KCP is not mislabeled (unknown)', async () => {
  const kcp2k = await kcp2kExchange();
  assert.is(kcp2k.echoed[0], 12);
  assert.is(classifyWithBuiltins(kcp2k.flows[0]!).label, 'kcp/kcp2k');
  const genshinConvs = [0x4d2a7e10, 0x12345690];
  const genshin = await runKcpExchange({
    conversations: genshinConvs.map((conv, i) => ({ conv, messages: messages(`genshin-${i}`) })),
    framing: genshinFraming(0x0badf00d),
  });
  genshin.flows.forEach((flow, i) => {
    assert.is(genshin.echoed[i], 12, 'the real peers completed through the 28-byte framing');
    assert.is(convOf(flow[0]!.data), genshinConvs[i]);
    const outcome = classifyWithBuiltins(flow);
    assert.ok(
      outcome.label.startsWith('unknown('),
      `Genshin KCP conv 0x${genshinConvs[i]!.toString(16)}: ${outcome.label}`,
    );
    assert.ok(
      ['no_protocol_matched', 'window_exhausted'].includes(
        (outcome.classification as { reason: string }).reason,
      ),
    );
    const kcpSays = builtin('kcp').probe(flow[0]!, []);
    assert.is(kcpSays.verdict, 'no');
  });
});

test('RTCP vs other: real ffmpeg RTCP is rtcp on one datagram, its RTP is rtp; KCP never reaches byte1 >= 192', async () => {
  const media = await opus();
  assert.ok(media.rtcp.length >= 2, 'sender reports and the BYE');
  for (const d of media.rtcp) {
    const one = classifyWithBuiltins([d]);
    assert.is(one.label, 'rtcp/default');
    assert.is(one.decidedAt, 0);
  }
  assert.is(classifyWithBuiltins(media.rtp).label, 'rtp/default');
  const rtcp = builtin('rtcp');
  const run = await kcpRtpLooking();
  for (const flow of run.flows) {
    for (const d of flow) {
      assert.ok(d.data[1]! < 192, 'KCP byte 1 is cmd 81..84');
      const result = rtcp.probe(d, []);
      assert.is(result.verdict, 'no');
      assert.is(result.reason, 'not_rtcp_type');
    }
  }
});

test('encrypted anything: kcp-go-encrypted-sized random datagrams and DTLS-like records are unknown, never a game protocol', () => {
  const random = createRandom(0xc0ffee);
  const at = (i: number) => 1_700_000_000_000 + i * 10;
  // kcp-go AES/salsa20: 20-byte crypt header + one PUSH (24 + payload) one way, 44-byte encrypted ACKs back.
  const kcpGo = (fec: boolean): Datagram[] =>
    Array.from({ length: 16 }, (_, i) =>
      i % 2 === 0
        ? {
            data: random.bytes(20 + (fec ? 8 : 0) + 24 + 40 + random.int(200)),
            direction: 'forward',
            at: at(i),
          }
        : { data: random.bytes(fec ? 52 : 44), direction: 'reverse', at: at(i) },
    );
  // DTLS 1.2 records (RFC 6347 §4.1): type, FE FD, epoch, 48-bit seq, length, opaque body.
  const dtlsRecord = (type: number, epoch: number, seq: number, body: number): Uint8Array =>
    Uint8Array.of(
      type,
      0xfe,
      0xfd,
      0,
      epoch,
      0,
      0,
      0,
      0,
      0,
      seq,
      body >> 8,
      body & 0xff,
      ...random.bytes(body),
    );
  const dtls: Datagram[] = [
    ...Array.from({ length: 4 }, (_, i) => ({
      data: dtlsRecord(22, 0, i, 60 + 30 * i),
      direction: (i % 2 === 0 ? 'forward' : 'reverse') as Datagram['direction'],
      at: at(i),
    })),
    ...Array.from({ length: 12 }, (_, i) => ({
      data: dtlsRecord(23, 1, i, 100 + i),
      direction: (i % 2 === 0 ? 'forward' : 'reverse') as Datagram['direction'],
      at: at(i + 4),
    })),
  ];
  const flows: [string, Datagram[]][] = [
    ['kcp-go encrypted', kcpGo(false)],
    ['kcp-go encrypted + FEC', kcpGo(true)],
    ['DTLS-like', dtls],
  ];
  for (const [what, flow] of flows) {
    const outcome = classifyWithBuiltins(flow);
    assert.ok(outcome.label.startsWith('unknown('), `${what}: ${outcome.label}`);
    for (const name of GAME_PROTOCOLS) assert.not.ok(outcome.label.startsWith(`${name}/`));
  }
  // The KCP probe names the shape without claiming it.
  const encrypted = kcpGo(false);
  const verdict = builtin('kcp').probe(encrypted[1]!, [encrypted[0]!]);
  assert.is(verdict.verdict, 'no');
  assert.is(verdict.reason, 'opaque_possibly_encrypted');
  for (const name of GAME_PROTOCOLS)
    assert.is(probeTrail(builtin(name), encrypted).at(-1)?.verdict === 'match', false, name);
});

test.run();
