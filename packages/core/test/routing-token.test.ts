import { createHmac } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ROUTING_TOKEN_BYTES,
  ROUTING_TOKEN_CODES,
  signRoutingToken,
  verifyRoutingToken,
} from '../src/index.js';

/**
 * The routing token's layout, checked against an HMAC computed here from the
 * layout's description (not through the code under test), and every way a
 * token is refused.
 */

const SECRET = 'core-test-routing-secret-0123456789';
const ID = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03]);
const EXPIRES = 1_900_000_000;

test('layout: id, expiry u32 BE, first 16 bytes of HMAC-SHA256 over bytes 0..11; key = hex id', () => {
  const { bytes, key } = signRoutingToken(SECRET, EXPIRES, ID);
  assert.is(bytes.length, ROUTING_TOKEN_BYTES);
  assert.equal(bytes.subarray(0, 8), ID);
  assert.equal(Array.from(bytes.subarray(8, 12)), [0x71, 0x3f, 0xb3, 0x00]);
  const expected = createHmac('sha256', SECRET).update(bytes.subarray(0, 12)).digest();
  assert.equal(Buffer.from(bytes.subarray(12)), expected.subarray(0, 16));
  assert.is(key, 'deadbeef00010203');
  assert.equal(verifyRoutingToken(SECRET, bytes, EXPIRES - 1), {
    ok: true,
    key,
    expiresAtSeconds: EXPIRES,
  });
});

test('refused: any altered byte, another secret, expiry reached, wrong size; never throws', () => {
  const { bytes } = signRoutingToken(SECRET, EXPIRES, ID);
  for (let i = 0; i < ROUTING_TOKEN_BYTES; i++) {
    const altered = Uint8Array.from(bytes);
    altered[i]! ^= 0x40;
    assert.equal(
      verifyRoutingToken(SECRET, altered, 0),
      { ok: false, code: 'bad_signature' },
      `byte ${i}`,
    );
  }
  assert.equal(verifyRoutingToken(`${SECRET}x`, bytes, 0), { ok: false, code: 'bad_signature' });
  assert.equal(verifyRoutingToken(SECRET, bytes, EXPIRES), { ok: false, code: 'expired' });
  for (const size of [0, 27, 29, 56])
    assert.equal(verifyRoutingToken(SECRET, new Uint8Array(size)), { ok: false, code: 'bad_size' });
  // A token inside a larger datagram (a view with an offset) reads the same.
  const datagram = new Uint8Array(100);
  datagram.set(bytes, 72);
  assert.is(verifyRoutingToken(SECRET, datagram.subarray(72), 0).ok, true);
  assert.equal(Object.keys(ROUTING_TOKEN_CODES).sort(), ['bad_signature', 'bad_size', 'expired']);
});

test('random ids: two tokens differ and both verify', () => {
  const a = signRoutingToken(SECRET, EXPIRES);
  const b = signRoutingToken(SECRET, EXPIRES);
  assert.is.not(a.key, b.key);
  assert.is(
    verifyRoutingToken(SECRET, a.bytes, 0).ok && verifyRoutingToken(SECRET, b.bytes, 0).ok,
    true,
  );
});

test.run();
