import { crc32 } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  crc32Ieee,
  createWalkSummary,
  kcp,
  parseSegments,
  unwrapKcp,
  walkSegments,
} from '../../src/kcp/index.js';
import { concat } from '../support/bytes.js';
import {
  cryptNoneWrap,
  fecDataShard,
  fecParityShard,
  kcp2kReliable,
  kcp2kUnreliable,
} from '../support/kcp-framing.js';

const options = kcp.create().config;

/** One segment written field by field from the ikcp.c layout (PROTOCOLS.md §2.1). */
function segment(fields: {
  conv?: number;
  cmd?: number;
  frg?: number;
  sn?: number;
  len?: number;
  data?: number;
}): Uint8Array {
  const data = fields.data ?? fields.len ?? 0;
  const out = new Uint8Array(24 + data);
  const view = new DataView(out.buffer);
  view.setUint32(0, fields.conv ?? 0x11223344, true);
  out[4] = fields.cmd ?? 81;
  out[5] = fields.frg ?? 0;
  view.setUint16(6, 128, true);
  view.setUint32(8, 1000, true);
  view.setUint32(12, fields.sn ?? 0, true);
  view.setUint32(16, 0, true);
  view.setUint32(20, fields.len ?? 0, true);
  return out;
}

const walk = (data: Uint8Array) => walkSegments(data, 0, data.length, 1476, null);

test('walk accepts well-formed datagrams and summarises them', () => {
  const data = concat([
    segment({ cmd: 82 }),
    segment({ cmd: 81, len: 10, sn: 4 }),
    segment({ cmd: 84 }),
  ]);
  const summary = createWalkSummary();
  assert.is(walkSegments(data, 0, data.length, 1476, summary), 'ok');
  assert.equal(summary, { conv: 0x11223344, segments: 3, pushes: 1, acks: 1, windowProbes: 1 });
  const parsed = parseSegments(data);
  assert.ok(parsed.ok);
  if (parsed.ok)
    assert.equal(
      parsed.segments.map((s) => [s.cmd, s.sn, s.len, s.dataOffset]),
      [
        [82, 0, 0, 24],
        [81, 4, 10, 48],
        [84, 0, 0, 82],
      ],
    );
  assert.is(walk(segment({ frg: 255, len: 1 })), 'ok', 'frg is a byte: 255 is legal (kcp2k)');
});

test('walk rejects each rule with its own code', () => {
  assert.is(walk(new Uint8Array(23)), 'too_short');
  assert.is(walk(segment({ cmd: 80 })), 'bad_cmd');
  assert.is(walk(segment({ cmd: 85 })), 'bad_cmd');
  const overflow = segment({ len: 5 });
  assert.is(walk(overflow.subarray(0, 28)), 'length_overflow');
  assert.is(walk(segment({ cmd: 82, len: 4 })), 'control_with_payload');
  assert.is(walk(segment({ cmd: 81, len: 1477 })), 'push_too_long');
  assert.is(
    walkSegments(segment({ len: 100 }), 0, 124, 99, null),
    'push_too_long',
    'maxPushLength is honoured',
  );
  assert.is(walk(concat([segment({}), segment({ conv: 1 })])), 'conv_mismatch');
  assert.is(walk(concat([segment({}), new Uint8Array(23)])), 'trailing_bytes');
  assert.is(parseSegments(segment({ cmd: 1 })).ok, false);
});

test('crc32Ieee agrees with node:zlib', () => {
  const data = new Uint8Array(1500).map((_, i) => (i * 131 + 7) & 0xff);
  for (const [start, end] of [
    [0, 0],
    [0, 1],
    [20, 1500],
    [3, 777],
  ] as const) {
    assert.is(crc32Ieee(data, start, end), crc32(data.subarray(start, end)));
  }
  assert.is(
    crc32Ieee(new TextEncoder().encode('123456789')),
    0xcbf43926,
    'the CRC-32/IEEE check value',
  );
});

test('test encoders lay bytes out exactly as kcp-go fec.go / sess.go and kcp2k KcpPeer.cs', () => {
  const kcpBytes = segment({ conv: 0x04030201, cmd: 82 });
  assert.equal(
    [...fecDataShard(0x0a0b0c0d, kcpBytes).subarray(0, 12)],
    [0x0d, 0x0c, 0x0b, 0x0a, 0xf1, 0x00, 26, 0x00, 0x01, 0x02, 0x03, 0x04],
  );
  const d1 = fecDataShard(0, kcpBytes);
  const d2 = fecDataShard(1, concat([kcpBytes, kcpBytes]));
  const parity = fecParityShard(2, [d1, d2]);
  assert.is(parity.length, d2.length, 'parity is as long as the longest data shard');
  assert.equal([...parity.subarray(0, 6)], [2, 0, 0, 0, 0xf2, 0x00]);
  const nonce = new Uint8Array(16).fill(0xaa);
  const wrapped = cryptNoneWrap(kcpBytes, nonce);
  assert.equal([...wrapped.subarray(0, 16)], [...nonce]);
  assert.is(new DataView(wrapped.buffer).getUint32(16, true), crc32(kcpBytes));
  assert.equal([...wrapped.subarray(20)], [...kcpBytes]);
  assert.equal(
    [...kcp2kReliable(0x11223344, kcpBytes).subarray(0, 6)],
    [1, 0x44, 0x33, 0x22, 0x11, 0x01],
  );
  assert.equal([...kcp2kUnreliable(0x11223344, 5)], [2, 0x44, 0x33, 0x22, 0x11, 5]);
  assert.equal([...kcp2kUnreliable(1, 4, new Uint8Array([9, 8]))], [2, 1, 0, 0, 0, 4, 9, 8]);
});

test('unwrapKcp detects each variant and rejects broken framings with their codes', () => {
  const push = segment({ conv: 77, len: 3 });
  const ack = segment({ conv: 0, cmd: 82 });
  assert.equal(unwrapKcp(push, options), {
    ok: true,
    variant: 'raw',
    kcp: { start: 0, end: 27, conv: 77 },
    fecType: null,
    kcp2k: null,
  });
  const fec = unwrapKcp(fecDataShard(9, push), options);
  assert.ok(fec.ok && fec.variant === 'fec' && fec.kcp?.start === 8 && fec.fecType === 0xf1);
  const crypt = unwrapKcp(cryptNoneWrap(fecDataShard(9, push)), options);
  assert.ok(
    crypt.ok && crypt.variant === 'crypt-none' && crypt.kcp?.start === 28 && crypt.fecType === 0xf1,
  );
  const reliable = unwrapKcp(kcp2kReliable(5, ack), options);
  assert.ok(
    reliable.ok &&
      reliable.variant === 'kcp2k' &&
      reliable.kcp2k?.cookie === 5 &&
      reliable.kcp?.start === 5,
  );
  const bye = unwrapKcp(kcp2kUnreliable(5, 5), options);
  assert.ok(bye.ok && bye.kcp === null && bye.kcp2k?.header === 5);

  const badSize = fecDataShard(9, push);
  badSize[6] = badSize[6]! + 1;
  assert.equal(unwrapKcp(badSize, options), { ok: false, code: 'fec_size_mismatch' });
  assert.equal(unwrapKcp(fecParityShard(1, [fecDataShard(0, new Uint8Array(10))]), options), {
    ok: false,
    code: 'fec_short_shard',
  });
  const oob = fecParityShard(1, [fecDataShard(0, push)]);
  oob[4] = 0xf3;
  assert.equal(unwrapKcp(oob, options), { ok: false, code: 'fec_oob_seqid' });
  oob.fill(0xff, 0, 4);
  assert.ok(unwrapKcp(oob, options).ok, 'OOB shard with seqid 0xFFFFFFFF');
  const badCrc = cryptNoneWrap(push);
  badCrc[16] = badCrc[16]! ^ 0xff;
  assert.equal(unwrapKcp(badCrc, options), { ok: false, code: 'crc_mismatch' });
  assert.equal(unwrapKcp(kcp2kReliable(5, push), options), {
    ok: false,
    code: 'kcp2k_conv_not_zero',
  });
  assert.equal(unwrapKcp(kcp2kUnreliable(5, 6, new Uint8Array(3)), options), {
    ok: false,
    code: 'kcp2k_bad_unreliable',
  });
  assert.equal(unwrapKcp(kcp2kUnreliable(5, 5, new Uint8Array(1)), options), {
    ok: false,
    code: 'kcp2k_bad_unreliable',
  });
  assert.equal(
    unwrapKcp(kcp2kUnreliable(5, 4), options),
    { ok: false, code: 'kcp2k_bad_unreliable' },
    'kcp2k never sends empty data',
  );
  const off = kcp.create({ fec: false, cryptNone: false, kcp2k: false }).config;
  assert.is(unwrapKcp(fecDataShard(9, push), off).ok, false, 'disabled variants are not tried');
  assert.is(unwrapKcp(kcp2kUnreliable(5, 5), off).ok, false);
});

test('config: typed and validated', () => {
  assert.is(kcp.create().config.maxPushLength, 1476);
  assert.is(kcp.parse({ maxPushLength: -1 }).ok, false);
  assert.is(kcp.parse({ maxPushLength: 1.5 }).ok, false);
  assert.is(kcp.parse({ fec: 'yes' }).ok, false);
  assert.is(kcp.parse({ nope: 1 }).ok, false);
  assert.is(kcp.create({ maxPushLength: 1376 }).config.maxPushLength, 1376);
  assert.is(kcp.name, 'kcp');
  assert.is(kcp.version, '1.0.0');
});

test.run();
