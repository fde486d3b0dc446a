import type { Datagram } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { netcode } from '../../src/netcode/index.js';
import { writeConnectionRequest, writeEncryptedPacket } from '../../src/netcode/packets.js';
import { generateConnectToken } from '../../src/netcode/token.js';
import { TEST_PRIVATE_KEY, TEST_PROTOCOL_ID } from './helpers.js';

const KEY = new Uint8Array(32).fill(9);
const at = 1_700_000_000_000;
const fwd = (data: Uint8Array): Datagram => ({ data, direction: 'forward', at });
const rev = (data: Uint8Array): Datagram => ({ data, direction: 'reverse', at });

const request = writeConnectionRequest(
  generateConnectToken({
    clientId: 1n,
    protocolId: TEST_PROTOCOL_ID,
    privateKey: TEST_PRIVATE_KEY,
    serverAddresses: ['127.0.0.1:1'],
    expireSeconds: 10,
    timeoutSeconds: 5,
  }).token,
);

test('probe: requests of both versions match at once; the routing key is the tag', () => {
  const protocol = netcode.create();
  assert.equal(protocol.probe(fwd(request), []), {
    verdict: 'match',
    variant: '1.02',
    reason: 'request_1_02',
  });
  const legacy = new Uint8Array(1062);
  legacy.set(new TextEncoder().encode('NETCODE 1.01\0'), 1);
  assert.equal(protocol.probe(fwd(legacy), []), {
    verdict: 'match',
    variant: '1.01',
    reason: 'request_1_01',
  });
  assert.is(protocol.routingKey(fwd(request)), Buffer.from(request.subarray(1062)).toString('hex'));
  assert.is(protocol.routingKey(fwd(request))!.length, 32);
  assert.is(protocol.routingKey(fwd(writeEncryptedPacket({ type: 6 }, 1n, KEY, 1n))), null);
  const wrongVersion = request.slice();
  wrongVersion[12] = 0x33;
  assert.is(protocol.probe(fwd(wrongVersion), []).reason, 'request_bad_version');
  assert.is(protocol.probe(fwd(request.subarray(0, 1000)), []).reason, 'request_bad_size');
  assert.is(protocol.probe(fwd(new Uint8Array(0)), []).reason, 'empty');
});

test('probe: protocol id allow-list', () => {
  assert.is(
    netcode.create({ protocolIds: [TEST_PROTOCOL_ID.toString()] }).probe(fwd(request), []).verdict,
    'match',
  );
  assert.is(
    netcode.create({ protocolIds: ['1', '2'] }).probe(fwd(request), []).reason,
    'protocol_id_not_allowed',
  );
});

test('probe: encrypted shape rules and sequence monotony', () => {
  const protocol = netcode.create();
  const ka = (seq: bigint) =>
    writeEncryptedPacket({ type: 4, clientIndex: 0, maxClients: 4 }, seq, KEY, 1n);
  assert.is(protocol.probe(fwd(ka(5n)), []).reason, 'encrypted_need_more');
  const history = [fwd(ka(5n)), rev(ka(0n)), fwd(ka(6n))];
  assert.equal(protocol.probe(rev(ka(1n)), history), {
    verdict: 'match',
    variant: 'encrypted',
    reason: 'encrypted_consistent',
  });
  assert.is(
    protocol.probe(rev(ka(0n)), history).reason,
    'sequence_not_monotone',
    'repeated sequence',
  );
  assert.is(protocol.probe(fwd(ka(5000n)), history).reason, 'sequence_not_monotone', 'leap');
  const short = ka(1n).subarray(0, 25);
  assert.is(protocol.probe(fwd(short), []).reason, 'bad_size_for_type');
  const notMinimal = ka(1n).slice();
  notMinimal[0] = 0x24;
  notMinimal[2] = 0;
  assert.is(protocol.probe(fwd(notMinimal.subarray(0, 27)), []).reason, 'sequence_not_minimal');
  const padded = new Uint8Array(27);
  padded[0] = 0x24;
  padded[1] = 1;
  assert.is(protocol.probe(fwd(padded), []).reason, 'sequence_not_minimal');
  assert.is(
    protocol.probe(fwd(new Uint8Array([0x17, ...new Uint8Array(30)])), []).reason,
    'bad_packet_type',
  );
  assert.is(
    protocol.probe(fwd(new Uint8Array([0x94, ...new Uint8Array(30)])), []).reason,
    'bad_sequence_bytes',
  );
  assert.is(protocol.probe(fwd(new Uint8Array([0x81, 1, 2])), []).reason, 'too_short');
  assert.is(
    protocol.probe(fwd(ka(9n)), [fwd(new Uint8Array([0x80, 0x60, 0, 1]))]).reason,
    'history_not_netcode',
  );
});

test('probe: an RTP stream (V=2 prefix 0x80..0x86 range) is not netcode', () => {
  const protocol = netcode.create();
  const rtp = (seq: number) => {
    const b = new Uint8Array(172);
    b[0] = 0x80;
    b[1] = 0x00;
    b[2] = seq >> 8;
    b[3] = seq & 0xff;
    b[8] = 0x12;
    return b;
  };
  assert.is(protocol.probe(fwd(rtp(1)), []).reason, 'bad_packet_type');
  const rtpCc2 = rtp(1);
  rtpCc2[0] = 0x82;
  assert.is(protocol.probe(fwd(rtpCc2), []).verdict, 'no');
});

test('config: validated with paths; unknown keys and bad values rejected', () => {
  const parsed = netcode.parse({ privateKey: 'abc', protocolIds: ['1', -1, 'x'], extra: true });
  assert.not.ok(parsed.ok);
  if (!parsed.ok) {
    assert.equal(
      parsed.issues.map((i) => i.path),
      ['/privateKey', '/protocolIds/1', '/protocolIds/2', '/extra'],
    );
  }
  const good = netcode.parse({
    privateKey: 'AB'.repeat(32),
    protocolIds: [1, '18446744073709551615'],
  });
  assert.ok(good.ok);
  if (good.ok) {
    assert.is(good.value.config.privateKey, 'ab'.repeat(32));
    assert.equal(good.value.config.protocolIds, ['1', '18446744073709551615']);
  }
  assert.not.ok(netcode.parse({ protocolIds: ['18446744073709551616'] }).ok);
  assert.throws(() => netcode.create({ privateKey: 'zz' }), /GM_CORE_INVALID_CONFIG/);
  assert.is(netcode.create().name, 'netcode');
  assert.is(netcode.create().version, '1.0.0');
});

test.run();
