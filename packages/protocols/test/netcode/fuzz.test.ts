import { fuzzProtocol } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EncryptedPacketType } from '../../src/netcode/constants.js';
import { netcode } from '../../src/netcode/index.js';
import { openConnectionRequest } from '../../src/netcode/open-request.js';
import {
  ReplayProtection,
  readConnectionRequest,
  readEncryptedPacket,
} from '../../src/netcode/packets.js';
import {
  decryptPrivateConnectToken,
  readConnectToken,
  readConnectTokenPrivate,
} from '../../src/netcode/token.js';
import {
  recordSession,
  TEST_PRIVATE_KEY,
  TEST_PRIVATE_KEY_HEX,
  TEST_PROTOCOL_ID,
} from './helpers.js';

const ITERATIONS = 1_000_000;
const ALL: ReadonlySet<EncryptedPacketType> = new Set([1, 2, 3, 4, 5, 6]);

test('fuzz: probe, routing key, tracker and parsers never throw; every reason documented', async () => {
  const session = await recordSession(4, 31n);
  const { token } = session.minted;
  const plain = decryptPrivateConnectToken(token.privateData, {
    protocolId: token.protocolId,
    expireTimestamp: token.expireTimestamp,
    nonce: token.nonce,
    privateKey: TEST_PRIVATE_KEY,
  })!;
  // Real datagrams from the session, plus the public token and the opened private token for the token readers.
  const seeds = [
    ...new Map(
      session.datagrams.map((d) => [Buffer.from(d.data).toString('hex'), d.data]),
    ).values(),
    session.minted.bytes,
    plain,
  ];
  const replay = new ReplayProtection();
  let opened = 0;
  const extra = (data: Uint8Array): void => {
    readConnectToken(data);
    readConnectTokenPrivate(data);
    readConnectionRequest(data);
    if (openConnectionRequest(data, { privateKey: TEST_PRIVATE_KEY, now: 1_700_000_000 }).ok)
      opened++;
    // The session keys make mutated seeds reach the decrypt and plaintext-size checks.
    // Alternating keys halves the AEAD work; both directions are still reached.
    const key = data.length % 2 === 0 ? token.clientToServerKey : token.serverToClientKey;
    readEncryptedPacket(data, { key, protocolId: TEST_PROTOCOL_ID, allowed: ALL, replay });
  };
  for (const [label, config, seed] of [
    ['keyless', {}, 11],
    ['keyed', { privateKey: TEST_PRIVATE_KEY_HEX }, 12],
  ] as const) {
    const report = fuzzProtocol(netcode.create(config), {
      seeds,
      iterations: ITERATIONS,
      seed,
      timeBudgetMs: 20_000,
      extra,
    });
    assert.equal(report.failures, [], `${label}: ${JSON.stringify(report.failures.slice(0, 3))}`);
    assert.equal(report.undocumentedReasons, []);
    assert.ok(
      report.iterations >= ITERATIONS,
      `${label}: reached only ${report.iterations} iterations`,
    );
    assert.ok(
      report.verdicts.match! > 0 && report.verdicts['need-more']! > 0 && report.verdicts.no! > 0,
      `${label}: ${JSON.stringify(report.verdicts)}`,
    );
    console.log(
      `netcode fuzz ${label}: ${report.iterations} iterations, verdicts ${JSON.stringify(report.verdicts)}`,
    );
  }
  assert.ok(opened > 0, 'unmutated requests opened, so the token path was exercised');
});

test.run();
