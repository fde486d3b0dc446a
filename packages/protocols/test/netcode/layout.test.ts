import { bytesAt, hex, u32le, u64le } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAddress } from '../../src/netcode/address.js';
import { type EncryptedPacketType, VERSION_INFO } from '../../src/netcode/constants.js';
import { sealIetf, sequenceNonce } from '../../src/netcode/crypto.js';
import { openConnectionRequest } from '../../src/netcode/open-request.js';
import {
  ReplayProtection,
  readConnectionRequest,
  readEncryptedPacket,
  sequenceBytesRequired,
  writeConnectionRequest,
  writeEncryptedPacket,
} from '../../src/netcode/packets.js';
import {
  decryptChallengeToken,
  decryptPrivateConnectToken,
  encryptChallengeToken,
  generateConnectToken,
  readConnectToken,
  readConnectTokenPrivate,
} from '../../src/netcode/token.js';
import { writeU64le } from '../../src/netcode/wire.js';
import { recordSession, TEST_PRIVATE_KEY, TEST_PROTOCOL_ID } from './helpers.js';

const ALL: ReadonlySet<EncryptedPacketType> = new Set([1, 2, 3, 4, 5, 6]);
const KEY = new Uint8Array(32).fill(3);
const NOW = Math.floor(Date.now() / 1000);

function mint(overrides: { expireSeconds?: number; createTimestamp?: number } = {}) {
  return generateConnectToken({
    clientId: 0x0102030405060708n,
    protocolId: TEST_PROTOCOL_ID,
    privateKey: TEST_PRIVATE_KEY,
    serverAddresses: ['127.0.0.1:40000', '[::1]:40001', '[2001:db8::ff:1]:65535'],
    expireSeconds: overrides.expireSeconds ?? 45,
    timeoutSeconds: 7,
    userData: new Uint8Array([0xaa, 0xbb]),
    nonce: Uint8Array.from({ length: 24 }, (_, i) => i + 1),
    createTimestamp: overrides.createTimestamp ?? NOW,
  });
}

test('public connect token: 2048 bytes at the §3.1 offsets, and read back', () => {
  const { bytes, token } = mint();
  assert.is(bytes.length, 2048);
  assert.ok(bytesAt(bytes, 0, VERSION_INFO));
  assert.is(u64le(bytes, 13), TEST_PROTOCOL_ID);
  assert.is(u64le(bytes, 21), BigInt(NOW));
  assert.is(u64le(bytes, 29), BigInt(NOW + 45));
  assert.is(hex(bytes, 37, 24), hex(token.nonce));
  assert.is(hex(bytes, 61, 1024), hex(token.privateData));
  assert.is(u32le(bytes, 1085), 7);
  assert.is(u32le(bytes, 1089), 3);
  // IPv4 address: type 1, a.b.c.d, u16 LE port.
  assert.equal([...bytes.subarray(1093, 1100)], [1, 127, 0, 0, 1, 0x40, 0x9c]);
  // IPv6 address: type 2, 8 groups u16 LE, port.
  assert.equal(
    [...bytes.subarray(1100, 1119)],
    [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x41, 0x9c],
  );
  const keys = 1100 + 19 + 19;
  assert.is(hex(bytes, keys, 32), hex(token.clientToServerKey));
  assert.is(hex(bytes, keys + 32, 32), hex(token.serverToClientKey));
  assert.ok(
    bytes.subarray(keys + 64).every((b) => b === 0),
    'zero padded',
  );
  const read = readConnectToken(bytes);
  assert.ok(read.ok);
  assert.equal(read.value, token);
  const bad = bytes.slice();
  bad[11] = 0x31;
  assert.equal(readConnectToken(bad), { ok: false, code: 'bad_version' });
  assert.equal(readConnectToken(bytes.subarray(0, 2047)), { ok: false, code: 'bad_size' });
});

test('private token opens with the key and round-trips; AD binds protocol id and expiry', () => {
  const { token, privateToken } = mint();
  const seal = {
    protocolId: token.protocolId,
    expireTimestamp: token.expireTimestamp,
    nonce: token.nonce,
    privateKey: TEST_PRIVATE_KEY,
  };
  const plain = decryptPrivateConnectToken(token.privateData, seal);
  assert.ok(plain !== null);
  assert.is(plain.length, 1008);
  assert.is(u64le(plain, 0), 0x0102030405060708n);
  const read = readConnectTokenPrivate(plain);
  assert.ok(read.ok);
  assert.equal(read.value, privateToken);
  assert.is(
    decryptPrivateConnectToken(token.privateData, { ...seal, protocolId: token.protocolId + 1n }),
    null,
  );
  assert.is(
    decryptPrivateConnectToken(token.privateData, {
      ...seal,
      expireTimestamp: token.expireTimestamp + 1n,
    }),
    null,
  );
  assert.is(decryptPrivateConnectToken(token.privateData, { ...seal, privateKey: KEY }), null);
});

test('connection request: exactly 1078 bytes with fields at 0/1/14/22/30/54/1062', () => {
  const { token } = mint();
  const request = writeConnectionRequest(token);
  assert.is(request.length, 1078);
  assert.is(request[0], 0);
  assert.ok(bytesAt(request, 1, VERSION_INFO));
  assert.is(u64le(request, 14), TEST_PROTOCOL_ID);
  assert.is(u64le(request, 22), token.expireTimestamp);
  assert.is(hex(request, 30, 24), hex(token.nonce));
  assert.is(hex(request, 54, 1024), hex(token.privateData));
  assert.is(hex(request, 1062, 16), hex(token.privateData, 1008, 16), 'tag = private token MAC');
  const read = readConnectionRequest(request);
  assert.ok(read.ok);
  assert.is(hex(read.tag), hex(request, 1062, 16));
  const opened = openConnectionRequest(request, { privateKey: TEST_PRIVATE_KEY });
  assert.ok(opened.ok);
  assert.is(opened.token.clientId, 0x0102030405060708n);
  assert.is(opened.token.timeoutSeconds, 7);
  assert.is(opened.token.serverAddresses.length, 3);
});

test('openConnectionRequest codes: forged on AD change, expired, bad_size, bad_version, bad_protocol_id', () => {
  const request = writeConnectionRequest(mint().token);
  const otherProtocol = request.slice();
  writeU64le(otherProtocol, 14, TEST_PROTOCOL_ID ^ 1n);
  assert.equal(openConnectionRequest(otherProtocol, { privateKey: TEST_PRIVATE_KEY }), {
    ok: false,
    code: 'forged',
  });
  const laterExpiry = request.slice();
  writeU64le(laterExpiry, 22, u64le(request, 22) + 100n);
  assert.equal(openConnectionRequest(laterExpiry, { privateKey: TEST_PRIVATE_KEY }), {
    ok: false,
    code: 'forged',
  });
  const flipped = request.slice();
  flipped[600] = flipped[600]! ^ 1;
  assert.equal(openConnectionRequest(flipped, { privateKey: TEST_PRIVATE_KEY }), {
    ok: false,
    code: 'forged',
  });
  assert.equal(openConnectionRequest(request, { privateKey: KEY }), { ok: false, code: 'forged' });
  assert.equal(openConnectionRequest(request, { privateKey: TEST_PRIVATE_KEY, now: NOW + 45 }), {
    ok: false,
    code: 'expired',
  });
  const old = writeConnectionRequest(mint({ createTimestamp: NOW - 100, expireSeconds: 10 }).token);
  assert.equal(openConnectionRequest(old, { privateKey: TEST_PRIVATE_KEY }), {
    ok: false,
    code: 'expired',
  });
  assert.equal(openConnectionRequest(request.subarray(0, 1077), { privateKey: TEST_PRIVATE_KEY }), {
    ok: false,
    code: 'bad_size',
  });
  const v101 = request.slice();
  v101[12] = 0x31;
  assert.equal(openConnectionRequest(v101, { privateKey: TEST_PRIVATE_KEY }), {
    ok: false,
    code: 'bad_version',
  });
  assert.equal(
    openConnectionRequest(request, { privateKey: TEST_PRIVATE_KEY, protocolIds: [1n] }),
    { ok: false, code: 'bad_protocol_id' },
  );
});

test('encrypted packet sizes per type (§3.2) and the variable-length sequence', () => {
  const token = new Uint8Array(300);
  const sizes = (sequence: bigint) => [
    writeEncryptedPacket({ type: 1 }, sequence, KEY, 1n),
    writeEncryptedPacket(
      { type: 2, challengeSequence: 5n, challengeToken: token },
      sequence,
      KEY,
      1n,
    ),
    writeEncryptedPacket(
      { type: 3, challengeSequence: 5n, challengeToken: token },
      sequence,
      KEY,
      1n,
    ),
    writeEncryptedPacket({ type: 4, clientIndex: 1, maxClients: 2 }, sequence, KEY, 1n),
    writeEncryptedPacket({ type: 5, payload: new Uint8Array(100) }, sequence, KEY, 1n),
    writeEncryptedPacket({ type: 6 }, sequence, KEY, 1n),
  ];
  assert.equal(
    sizes(0n).map((p) => [p[0], p.length]),
    [
      [0x11, 18],
      [0x12, 326],
      [0x13, 326],
      [0x14, 26],
      [0x15, 118],
      [0x16, 18],
    ],
  );
  assert.equal(
    sizes(1n << 63n).map((p) => [p[0], p.length]),
    [
      [0x81, 25],
      [0x82, 333],
      [0x83, 333],
      [0x84, 33],
      [0x85, 125],
      [0x86, 25],
    ],
  );
  assert.equal(
    [0n, 0xffn, 0x100n, 0xffffffffn, 1n << 32n, (1n << 64n) - 1n].map(sequenceBytesRequired),
    [1, 1, 2, 4, 5, 8],
  );
  const p = writeEncryptedPacket({ type: 4, clientIndex: 0, maxClients: 0 }, 0x0102n, KEY, 1n);
  assert.equal([...p.subarray(0, 3)], [0x24, 0x02, 0x01]);
  // AEAD layout: nonce u32 0 || u64 LE seq, AD = version || protocol id || prefix.
  const ad = new Uint8Array([...VERSION_INFO, 1, 0, 0, 0, 0, 0, 0, 0, 0x24]);
  assert.is(hex(p.subarray(3)), hex(sealIetf(KEY, sequenceNonce(0x0102n), ad, new Uint8Array(8))));
});

test('packet reader: rules of §3.2 as codes, replay window with the subtraction form', () => {
  const keepAlive = writeEncryptedPacket({ type: 4, clientIndex: 3, maxClients: 8 }, 7n, KEY, 1n);
  const replay = new ReplayProtection();
  const read = readEncryptedPacket(keepAlive, { key: KEY, protocolId: 1n, allowed: ALL, replay });
  assert.ok(read.ok);
  assert.equal(read.packet, { type: 4, clientIndex: 3, maxClients: 8 });
  assert.is(read.sequence, 7n);
  assert.equal(readEncryptedPacket(keepAlive, { key: KEY, protocolId: 1n, allowed: ALL, replay }), {
    ok: false,
    code: 'replayed',
  });
  assert.equal(readEncryptedPacket(keepAlive, { key: KEY, protocolId: 2n, allowed: ALL }), {
    ok: false,
    code: 'decrypt_failed',
  });
  assert.equal(
    readEncryptedPacket(keepAlive, { key: KEY, protocolId: 1n, allowed: new Set([5]) }),
    { ok: false, code: 'type_not_allowed' },
  );
  assert.equal(
    readEncryptedPacket(keepAlive.subarray(0, 17), { key: KEY, protocolId: 1n, allowed: ALL }),
    { ok: false, code: 'too_small' },
  );
  const prefix = keepAlive.slice();
  prefix[0] = 0x94;
  assert.equal(readEncryptedPacket(prefix, { key: KEY, protocolId: 1n, allowed: ALL }), {
    ok: false,
    code: 'bad_sequence_bytes',
  });
  prefix[0] = 0x17;
  assert.equal(readEncryptedPacket(prefix, { key: KEY, protocolId: 1n, allowed: ALL }), {
    ok: false,
    code: 'bad_packet_type',
  });
  prefix[0] = 0x15;
  assert.equal(
    readEncryptedPacket(prefix, { key: KEY, protocolId: 1n, allowed: ALL }),
    { ok: false, code: 'decrypt_failed' },
    'prefix is in the AD',
  );
  // A keep-alive whose decrypted size is wrong authenticates but is rejected.
  const ad = new Uint8Array([...VERSION_INFO, 1, 0, 0, 0, 0, 0, 0, 0, 0x14]);
  const odd = new Uint8Array([0x14, 9, ...sealIetf(KEY, sequenceNonce(9n), ad, new Uint8Array(7))]);
  assert.equal(readEncryptedPacket(odd, { key: KEY, protocolId: 1n, allowed: ALL }), {
    ok: false,
    code: 'bad_plaintext_size',
  });

  const window = new ReplayProtection();
  window.advance(300n);
  assert.ok(window.alreadyReceived(44n), '300 - 256 = 44 is too old');
  assert.not.ok(window.alreadyReceived(45n));
  window.advance(45n);
  assert.ok(window.alreadyReceived(45n));
  const fresh = new ReplayProtection();
  assert.not.ok(fresh.alreadyReceived(0n), 'no wrap-around near zero');
});

test('challenge token: 300 bytes, opens only with its sequence and key', () => {
  const sealed = encryptChallengeToken(
    { clientId: 99n, userData: new Uint8Array(256).fill(4) },
    12n,
    KEY,
  );
  assert.is(sealed.length, 300);
  const opened = decryptChallengeToken(sealed, 12n, KEY);
  assert.is(opened?.clientId, 99n);
  assert.ok(opened?.userData.every((b) => b === 4));
  assert.is(decryptChallengeToken(sealed, 13n, KEY), null);
});

test('real session: challenge 0x82/333 (1 << 63), first response 0x13/326, first server keep-alive 0x14/26', async () => {
  const session = await recordSession(1, 3n);
  const reverse = session.datagrams.filter((d) => d.direction === 'reverse');
  const forward = session.datagrams.filter((d) => d.direction === 'forward');
  const challenge = reverse.find((d) => (d.data[0]! & 0x0f) === 2)!;
  assert.is(challenge.data[0], 0x82);
  assert.is(challenge.data.length, 333);
  assert.is(u64le(challenge.data, 1), 1n << 63n);
  const response = forward.find((d) => (d.data[0]! & 0x0f) === 3)!;
  assert.is(response.data[0], 0x13);
  assert.is(response.data.length, 326);
  assert.is(response.data[1], 0);
  const keepAlive = reverse.find((d) => (d.data[0]! & 0x0f) === 4)!;
  assert.is(keepAlive.data[0], 0x14);
  assert.is(keepAlive.data.length, 26);
  assert.is(keepAlive.data[1], 0);
  assert.ok(forward.filter((d) => d.data.length === 1078).length >= 1);
});

test('address parsing and formatting', () => {
  assert.equal(parseAddress('10.0.0.1:7777'), { type: 1, parts: [10, 0, 0, 1], port: 7777 });
  assert.equal(parseAddress('[::ffff:1.2.3.4]:1'), {
    type: 2,
    parts: [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304],
    port: 1,
  });
  assert.is(parseAddress('10.0.0.1'), null);
  assert.is(parseAddress('[1::2::3]:5'), null);
  assert.is(parseAddress('1.2.3.4:70000'), null);
});

test.run();
