import { createRequire } from 'node:module';
import type { Datagram, Direction } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { probeRtcp, probeRtp, RTP_REASONS, rtpFamilyRoutingKey } from '../../src/rtp/index.js';

interface KcpObject {
  output(callback: (data: Buffer, size: number) => void): void;
  input(data: Buffer): number;
  send(data: Buffer): number;
  update(now: number): void;
  flush(): void;
  nodelay(nodelay: number, interval: number, resend: number, nc: number): void;
}
const require = createRequire(import.meta.url);
const { KCP } = require('node-kcp/build/Release/kcp') as {
  KCP: new (conv: number, context: object) => KcpObject;
};

const dg = (data: Uint8Array, at: number, direction: Direction = 'forward'): Datagram => ({
  data,
  at,
  direction,
});

function rtpPacket(seq: number, ts: number, ssrc: number, byte1 = 96, size = 40): Uint8Array {
  const b = new Uint8Array(size);
  b[0] = 0x80;
  b[1] = byte1;
  b[2] = (seq >> 8) & 0xff;
  b[3] = seq & 0xff;
  new DataView(b.buffer).setUint32(4, ts >>> 0);
  new DataView(b.buffer).setUint32(8, ssrc >>> 0);
  return b;
}

/** Probes `datagrams` in order as the classifier would; returns each verdict/reason. */
function classify(datagrams: readonly Datagram[]): string[] {
  const history: Datagram[] = [];
  return datagrams.map((d) => {
    const result = probeRtp(d, history);
    history.push(d);
    return `${result.verdict}:${result.reason}`;
  });
}

test('RTP: header-valid datagrams wait; two sequential packets of one SSRC match', () => {
  assert.equal(classify([dg(rtpPacket(100, 0, 7), 0), dg(rtpPacket(101, 3000, 7, 96 | 0x80), 1)]), [
    'need-more:candidate',
    'match:probation_passed',
  ]);
  assert.is(rtpFamilyRoutingKey(dg(rtpPacket(1, 0, 0xfffffffe), 0)), '4294967294');
  // Sequence wrap and an interleaved packet from the other direction.
  assert.equal(
    classify([
      dg(rtpPacket(65535, 10, 7), 0),
      dg(rtpPacket(9, 10, 8), 1, 'reverse'),
      dg(rtpPacket(0, 10, 7), 2),
    ]),
    ['need-more:candidate', 'need-more:candidate', 'match:probation_passed'],
  );
});

test('RTP: packets close in sequence match in either order; far apart, equal, another PT or a timestamp against the order do not', () => {
  // A gap of a few lost packets, and a swap on the path: still one stream.
  assert.equal(classify([dg(rtpPacket(1, 0, 7), 0), dg(rtpPacket(3, 0, 7), 1)]), [
    'need-more:candidate',
    'match:probation_passed',
  ]);
  assert.equal(classify([dg(rtpPacket(12, 960, 7), 0), dg(rtpPacket(9, 0, 7), 1)]), [
    'need-more:candidate',
    'match:probation_passed',
  ]);
  // Across the wrap, backwards: 2 arrives before 65534.
  assert.equal(classify([dg(rtpPacket(2, 4000, 7), 0), dg(rtpPacket(65534, 1000, 7), 1)]), [
    'need-more:candidate',
    'match:probation_passed',
  ]);
  // 16 apart is the limit; 17 needs a third packet close to one of them.
  assert.equal(
    classify([dg(rtpPacket(100, 0, 7), 0), dg(rtpPacket(116, 0, 7), 1)]).at(-1),
    'match:probation_passed',
  );
  assert.equal(
    classify([
      dg(rtpPacket(100, 0, 7), 0),
      dg(rtpPacket(117, 0, 7), 1),
      dg(rtpPacket(118, 0, 7), 2),
    ]),
    ['need-more:candidate', 'need-more:candidate', 'match:probation_passed'],
  );
  // A duplicate (the same sequence number) is no evidence.
  assert.equal(
    classify([dg(rtpPacket(5, 0, 7), 0), dg(rtpPacket(5, 0, 7), 1)]).at(-1),
    'need-more:candidate',
  );
  assert.equal(
    classify([dg(rtpPacket(1, 0, 7, 96), 0), dg(rtpPacket(2, 0, 7, 97), 1)]).at(-1),
    'need-more:candidate',
  );
  // The timestamp runs against the sequence number, either way.
  assert.equal(
    classify([dg(rtpPacket(1, 5000, 7), 0), dg(rtpPacket(2, 1000, 7), 1)]).at(-1),
    'need-more:candidate',
  );
  assert.equal(
    classify([dg(rtpPacket(2, 1000, 7), 0), dg(rtpPacket(1, 5000, 7), 1)]).at(-1),
    'need-more:candidate',
  );
  // Timestamps more than 2^24 ticks apart are not 16 packets of one live stream.
  assert.equal(
    classify([dg(rtpPacket(1, 0, 7), 0), dg(rtpPacket(2, 2 ** 24 + 1, 7), 1)]).at(-1),
    'need-more:candidate',
  );
  assert.equal(
    classify([dg(rtpPacket(1, 0, 7), 0), dg(rtpPacket(2, 2 ** 24, 7), 1)]).at(-1),
    'match:probation_passed',
  );
  // Another SSRC never pairs.
  assert.equal(
    classify([dg(rtpPacket(1, 0, 7), 0), dg(rtpPacket(2, 0, 8), 1)]).at(-1),
    'need-more:candidate',
  );
});

test('RTP header negatives map to documented reasons', () => {
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(11).fill(0x80), 'too_short'],
    [
      (() => {
        const b = rtpPacket(1, 0, 7);
        b[0] = 0xc0;
        return b;
      })(),
      'bad_version',
    ],
    [
      (() => {
        const b = rtpPacket(1, 0, 7, 96, 20);
        b[0] = 0x83;
        return b;
      })(),
      'bad_csrc_length',
    ],
    [
      (() => {
        const b = rtpPacket(1, 0, 7, 96, 20);
        b[0] = 0x90;
        b[15] = 9;
        return b;
      })(),
      'bad_extension_length',
    ],
    [
      (() => {
        const b = rtpPacket(1, 0, 7, 96, 20);
        b[0] = 0xa0;
        b[19] = 0;
        return b;
      })(),
      'bad_padding',
    ],
    [
      (() => {
        const b = rtpPacket(1, 0, 7, 96, 20);
        b[0] = 0xa0;
        b[19] = 9;
        return b;
      })(),
      'bad_padding',
    ],
    [rtpPacket(1, 0, 7, 72), 'rtcp_payload_type'],
  ];
  for (const [data, reason] of cases) {
    const result = probeRtp(dg(data, 0), []);
    assert.is(`${result.verdict}:${result.reason}`, `no:${reason}`);
    assert.ok(Object.hasOwn(RTP_REASONS, reason));
  }
});

test('§5.2: real node-kcp traffic with a conv whose low byte reads as RTP V=2 never matches RTP or RTCP', () => {
  // conv 0x1234_5680: byte0 0x80 looks like RTP; bytes 2..3 (the "sequence") are the conv's constant high bytes.
  const conv = 0x12345680;
  const datagrams: Datagram[] = [];
  let now = 1_000;
  const client = new KCP(conv, {});
  const server = new KCP(conv, {});
  for (const k of [client, server]) k.nodelay(1, 10, 2, 1);
  client.output((data, size) => {
    const copy = new Uint8Array(data.subarray(0, size));
    datagrams.push(dg(copy, now, 'forward'));
    server.input(Buffer.from(copy));
  });
  server.output((data, size) => {
    const copy = new Uint8Array(data.subarray(0, size));
    datagrams.push(dg(copy, now, 'reverse'));
    client.input(Buffer.from(copy));
  });
  for (let i = 0; i < 12; i++) {
    client.send(Buffer.from(`message ${i} `.repeat(3)));
    client.update(now);
    server.update(now);
    now += 20;
  }
  assert.ok(datagrams.length >= 8, `kcp datagrams: ${datagrams.length}`);
  assert.is(datagrams[0]!.data[0], 0x80);
  const verdicts = classify(datagrams);
  assert.not.ok(
    verdicts.some((v) => v.startsWith('match')),
    verdicts.join(' '),
  );
  assert.not.ok(datagrams.some((d) => probeRtcp(d).verdict === 'match'));
});

test('§5.2: RakNet data datagrams (u24 LE sequence) and ACKs, netcode packets never match RTP', () => {
  // PROTOCOLS.md §1.5: 0x84 | u24 LE datagram seq | frame (flags, u16 BE bit length, ...).
  const raknet = Array.from({ length: 8 }, (_, seq) => {
    const b = new Uint8Array(32);
    b.set([0x84, seq & 0xff, (seq >> 8) & 0xff, seq >> 16, 0x60, 0x00, 0x48, seq, 0, 0]);
    return dg(b, seq);
  });
  assert.not.ok(classify(raknet).some((v) => v.startsWith('match')));
  const ack = new Uint8Array([0xc0, 0x00, 0x01, 0x01, 0x05, 0x00, 0x00, 0x00, 0, 0, 0, 0]);
  assert.is(probeRtp(dg(ack, 0), []).reason, 'bad_version');
  // PROTOCOLS.md §3.2: prefix 0x82 (type 2, 8 sequence bytes), then encrypted bytes.
  const netcode = Array.from({ length: 8 }, (_, i) => {
    const b = new Uint8Array(333);
    b[0] = 0x82;
    b[1] = i;
    for (let j = 9; j < b.length; j++) b[j] = (j * 131 + i * 977) & 0xff;
    return dg(b, i);
  });
  assert.not.ok(classify(netcode).some((v) => v.startsWith('match')));
});

test.run();
