import { fuzzProtocol } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  parseConnectedDatagram,
  parseOfflineMessage,
  raknet,
  readConnectedMessage,
  walkDataFrames,
} from '../../src/raknet/index.js';
import { runRakNetSession } from './raknet-session.js';

/**
 * One million seeded inputs, half of them mutations of datagrams from a real
 * raknet-native session: probe, routing key, tracker and the standalone
 * parsers must never throw, and every probe reason must be documented.
 */

const ITERATIONS = 1_000_000;

function exerciseParsers(data: Uint8Array): void {
  parseOfflineMessage(data);
  const parsed = parseConnectedDatagram(data);
  if (parsed.ok && parsed.datagram.kind === 'data') {
    for (const frame of parsed.datagram.frames)
      readConnectedMessage(data, frame.payloadOffset, frame.payloadLength);
  }
  walkDataFrames(data, (messageAt, length) => {
    if (messageAt >= 0) readConnectedMessage(data, messageAt, length);
  });
}

test('fuzz: probe, routing key, tracker and parsers never throw; reasons documented', async () => {
  const recording = await runRakNetSession({ relay: true, protocolVersion: 11 });
  const seeds = recording.datagrams.map((d) => d.data);
  assert.ok(seeds.length > 20);
  const report = fuzzProtocol(raknet.create(), {
    seeds,
    iterations: ITERATIONS,
    seed: 0x5241_4b4e,
    timeBudgetMs: 20_000,
    extra: exerciseParsers,
  });
  assert.equal(report.failures, [], JSON.stringify(report.failures.slice(0, 3)));
  assert.equal(report.undocumentedReasons, []);
  assert.ok(report.iterations >= ITERATIONS, `reached ${report.iterations} iterations`);
  // Mutated seeds reach the deep paths, not only the length checks.
  assert.ok(
    report.verdicts.match! > 0 && report.verdicts['need-more']! > 0 && report.verdicts.no! > 0,
  );
  console.log(
    `raknet fuzz: ${report.iterations} iterations, verdicts ${JSON.stringify(report.verdicts)}`,
  );
});

test.run();
