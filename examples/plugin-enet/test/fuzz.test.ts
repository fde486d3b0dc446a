import { fuzzProtocol } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import enet, { parseDatagram } from '../src/index.js';
import { runEnetSession } from './support/enet-session.js';

// Seeds are real libenet datagrams (with and without checksums), so mutations
// reach the command walk, the CONNECT checks and the tracker's RTT and
// sequence bookkeeping, not only the length check.

const ITERATIONS = 1_000_000;

test('probe, routingKey, tracker and parser never throw; every reason is documented', async () => {
  const plain = await runEnetSession({ count: 10 });
  const checksummed = await runEnetSession({ count: 3, checksum: true });
  const seeds = [...plain.datagrams, ...checksummed.datagrams].map((d) => d.data);
  for (const checksum of [false, true]) {
    const report = fuzzProtocol(enet.create({ checksum }), {
      seeds,
      iterations: ITERATIONS,
      seed: checksum ? 0xe1e7 : 0xe1e7 + 1,
      timeBudgetMs: 20_000,
      extra: (data) => {
        parseDatagram(data, { checksum: false });
        parseDatagram(data, { checksum: true });
      },
    });
    assert.equal(report.failures, [], `seed ${report.seed}: ${JSON.stringify(report.failures[0])}`);
    assert.ok(report.iterations >= ITERATIONS, `reached ${report.iterations} iterations`);
    // Mutated real datagrams must still reach each verdict.
    assert.ok(
      report.verdicts.match! > 0 && report.verdicts['need-more']! > 0 && report.verdicts.no! > 0,
    );
    console.log(
      `  enet checksum=${checksum}: ${report.iterations} inputs, verdicts ${JSON.stringify(report.verdicts)}`,
    );
  }
});

test.run();
