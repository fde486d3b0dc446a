import type { Datagram } from '@gamemesh/core';
import { createRandom } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kcp } from '../../src/kcp/index.js';
import { fecDataShard, fecParityShard, kcp2kUnreliable } from '../support/kcp-framing.js';
import { rawExchange } from './vectors.js';

const protocol = kcp.create();
const at = 1_700_000_000_000;
const fwd = (data: Uint8Array): Datagram => ({ data, direction: 'forward', at });
const rev = (data: Uint8Array): Datagram => ({ data, direction: 'reverse', at });

test('real datagrams: PUSH matches alone; an ACK-only datagram needs the conversation confirmed', async () => {
  const { flows } = await rawExchange();
  const flow = flows[1]!;
  const push = flow.find((d) => d.direction === 'forward' && d.data[4] === 81)!;
  assert.equal(protocol.probe(push, []), {
    verdict: 'match',
    variant: 'raw',
    reason: 'push_segment',
  });
  const ackOnly = flow.find((d) => d.data.length === 24 && d.data[4] === 82)!;
  assert.equal(protocol.probe(ackOnly, []), { verdict: 'need-more', reason: 'control_only' });
  const other = flow.find((d) => d !== ackOnly && d.direction !== ackOnly.direction)!;
  assert.equal(protocol.probe(ackOnly, [other]), {
    verdict: 'match',
    variant: 'raw',
    reason: 'conv_corroborated',
  });
  const strangerConv = other.data.slice();
  strangerConv[3] = strangerConv[3]! ^ 0x40;
  const mixed = protocol.probe(ackOnly, [{ ...other, data: strangerConv }]);
  assert.is(mixed.verdict, 'need-more', 'a different conv does not corroborate');
});

test('FEC parity and kcp2k unreliable alone are need-more; their own stream confirms them', () => {
  const ack = new Uint8Array(24);
  ack[0] = 9;
  ack[4] = 82;
  const data = fecDataShard(0, ack);
  const parity = fecParityShard(3, [data, data, data]);
  assert.equal(protocol.probe(fwd(parity), []), {
    verdict: 'need-more',
    reason: 'fec_unreadable_shard',
  });
  assert.equal(protocol.probe(fwd(data), []), { verdict: 'need-more', reason: 'control_only' });
  assert.equal(protocol.probe(fwd(parity), [fwd(data)]), {
    verdict: 'match',
    variant: 'fec',
    reason: 'conv_corroborated',
  });
  const unreliable = kcp2kUnreliable(42, 4, new Uint8Array([1, 2, 3]));
  assert.equal(protocol.probe(fwd(unreliable), []), {
    verdict: 'need-more',
    reason: 'kcp2k_unreliable',
  });
  assert.equal(
    protocol.probe(rev(unreliable), [fwd(kcp2kUnreliable(42, 4, new Uint8Array([7])))]),
    {
      verdict: 'match',
      variant: 'kcp2k',
      reason: 'cookie_corroborated',
    },
  );
  assert.is(
    protocol.probe(rev(unreliable), [fwd(kcp2kUnreliable(43, 4, new Uint8Array([7])))]).verdict,
    'need-more',
  );
});

test('random, all-zero, short and DNS-like datagrams are no', () => {
  const random = createRandom(7);
  let matches = 0;
  for (let i = 0; i < 20_000; i++) {
    const verdict = protocol.probe(fwd(random.bytes(random.int(1400))), []).verdict;
    if (verdict !== 'no') matches++;
  }
  assert.is(matches, 0, 'no random datagram is KCP');
  for (const length of [0, 5, 24, 48, 100, 1400]) {
    assert.is(protocol.probe(fwd(new Uint8Array(length)), []).verdict, 'no', `zeros x${length}`);
  }
  assert.equal(protocol.probe(fwd(new Uint8Array(3)), []), { verdict: 'no', reason: 'too_short' });
  // A DNS query for example.com, A/IN.
  const dns = Uint8Array.from([
    0x12,
    0x34,
    0x01,
    0x00,
    0x00,
    0x01,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x07,
    ...new TextEncoder().encode('example'),
    0x03,
    ...new TextEncoder().encode('com'),
    0x00,
    0x00,
    0x01,
    0x00,
    0x01,
  ]);
  assert.equal(protocol.probe(fwd(dns), []), { verdict: 'no', reason: 'bad_cmd' });
  assert.is(protocol.routingKey(fwd(dns)), null);
});

test('encrypted-looking kcp-go traffic is no, labelled opaque_possibly_encrypted only with a signal', () => {
  const random = createRandom(11);
  const nonZero = (length: number) => random.bytes(length).map((b) => b || 1);
  const request = fwd(nonZero(20 + 24 + 60));
  const ack = rev(nonZero(44));
  assert.equal(
    protocol.probe(request, []),
    { verdict: 'no', reason: 'bad_cmd' },
    'one datagram is no signal',
  );
  assert.equal(protocol.probe(ack, [request]), {
    verdict: 'no',
    reason: 'opaque_possibly_encrypted',
  });
  assert.is(
    protocol.probe(rev(nonZero(44)), [fwd(new Uint8Array(104))]).reason,
    'bad_cmd',
    'plaintext zeros are no signal',
  );
  assert.is(
    protocol.probe(fwd(nonZero(44)), [request]).reason,
    'bad_cmd',
    'same direction is no signal',
  );
});

test('every reason code is documented', () => {
  for (const reason of [
    'push_segment',
    'crc_verified',
    'conv_corroborated',
    'cookie_corroborated',
    'control_only',
    'fec_unreadable_shard',
    'kcp2k_unreliable',
    'opaque_possibly_encrypted',
    'too_short',
    'bad_cmd',
    'crc_mismatch',
  ]) {
    assert.type(protocol.reasons[reason], 'string', reason);
  }
});

test.run();
