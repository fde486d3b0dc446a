import { hex } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openIetf, openX, sealIetf, sealX } from '../../src/netcode/crypto.js';
import { fromHex } from '../../src/netcode/wire.js';

// Published vectors pin the exact AEAD constructions netcode needs.
const SUNSCREEN = new TextEncoder().encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const KEY = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);
const AAD = fromHex('50515253c0c1c2c3c4c5c6c7')!;

test('ChaCha20-Poly1305 IETF matches RFC 8439 §2.8.2', () => {
  const nonce = fromHex('070000004041424344454647')!;
  const sealed = sealIetf(KEY, nonce, AAD, SUNSCREEN);
  const expected =
    'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6' +
    '3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36' +
    '92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc' +
    '3ff4def08e4b7a9de576d26586cec64b6116' +
    '1ae10b594f09e26a7e902ecbd0600691';
  assert.is(hex(sealed), expected);
  assert.equal(openIetf(KEY, nonce, AAD, sealed), SUNSCREEN);
  const tampered = sealed.slice();
  tampered[0] = tampered[0]! ^ 1;
  assert.is(openIetf(KEY, nonce, AAD, tampered), null);
});

test('XChaCha20-Poly1305 matches draft-irtf-cfrg-xchacha §A.3.1', () => {
  const nonce = Uint8Array.from({ length: 24 }, (_, i) => 0x40 + i);
  const sealed = sealX(KEY, nonce, AAD, SUNSCREEN);
  const expected =
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb' +
    '731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452' +
    '2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9' +
    '21f9664c97637da9768812f615c68b13b52e' +
    'c0875924c1c7987947deafd8780acf49';
  assert.is(hex(sealed), expected);
  assert.equal(openX(KEY, nonce, AAD, sealed), SUNSCREEN);
  assert.is(openX(KEY, nonce, fromHex('50515253c0c1c2c3c4c5c6c8')!, sealed), null);
});

test.run();
