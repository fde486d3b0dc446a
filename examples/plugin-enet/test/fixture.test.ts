import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClassifier, createFlow, createRegistry, type Datagram } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import enet, { type EnetStats } from '../src/index.js';
import { packageRoot } from './support/package-root.js';
import { readPcapUdp } from './support/read-pcap.js';

// The committed capture (test/fixtures/enet-session.pcap, made by
// make-capture.sh) is one whole session: the plugin must see all of it.
// The connect ID is the one libenet printed when the capture was made
// (test/fixtures/README.md).
const CAPTURED_CONNECT_ID = '2412109182';

test('the fixture capture is one ENet session from CONNECT to DISCONNECT', () => {
  const packets = readPcapUdp(
    readFileSync(join(packageRoot(), 'test', 'fixtures', 'enet-session.pcap')),
  );
  assert.ok(packets.length > 10, `${packets.length} datagrams`);
  const client = packets[0]!.sourcePort;
  const datagrams: Datagram[] = packets.map((p) => ({
    data: p.payload,
    direction: p.sourcePort === client ? 'forward' : 'reverse',
    at: p.at,
  }));
  const flow = createFlow(createClassifier(createRegistry({ protocols: [enet.create()] })));
  for (const datagram of datagrams) flow.observe(datagram);
  assert.ok(flow.classification.state === 'matched');
  assert.is(flow.classification.variant, 'connect');
  assert.is(flow.opened?.key, CAPTURED_CONNECT_ID);
  assert.is(flow.closed?.reason, 'protocol_disconnect');
  const stats = flow.stats() as EnetStats;
  assert.is(stats.unparsed, 0);
  assert.type(stats.rttMs, 'number');
});

test.run();
