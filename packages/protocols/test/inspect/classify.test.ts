import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '@gamemesh/core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inspectFile } from '../../src/inspect/inspect.js';
import { flowJson } from '../../src/inspect/report.js';
import { captureWith, echoExchange, freePort } from './helpers/tcpdump.js';
import { testProtocols } from './helpers/test-protocols.js';

// Real traffic from node:dgram sockets, captured by tcpdump, classified by
// small test protocols: matches, keys, lifecycle, cross-flow close through the
// session book, unknown reasons and ordering by first datagram.

const bytes = (...values: number[]) => Uint8Array.from(values);

test('flows are classified, keyed, opened and closed (also across flows of a family)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gm-inspect-classify-'));
  try {
    const [greetPort, mediaPort, controlPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const file = join(dir, 'flows.pcap');
    const exchanges = await captureWith(
      {
        file,
        filter: `udp and host 127.0.0.1 and (port ${greetPort} or port ${mediaPort} or port ${controlPort})`,
        expectedFrames: 6 + 6 + 1 + 4 + 1,
      },
      async () => [
        await echoExchange('udp4', [bytes(0x47, 7, 1), bytes(0x47, 7, 2), bytes(0xff, 7)], {
          serverPort: greetPort,
        }),
        await echoExchange('udp4', [bytes(0x80, 42, 0), bytes(0x80, 42, 1), bytes(0x80, 42, 2)], {
          serverPort: mediaPort,
        }),
        await echoExchange('udp4', [bytes(0xc8, 42, 0xbb)], {
          serverPort: controlPort,
          reply: () => null,
        }),
        await echoExchange('udp4', [bytes(0x33), bytes(0x33)], { serverPort: greetPort }),
        await echoExchange('udp4', [bytes(0x99, 1)], { serverPort: greetPort, reply: () => null }),
      ],
    );
    const result = await inspectFile(file, {
      registry: createRegistry({ protocols: testProtocols() }),
      window: 2,
    });
    assert.is(result.capture.error, null);
    assert.is(result.datagrams, 18);
    const flows = result.flows.map(flowJson);
    assert.is(flows.length, 5);
    const [greetFlow, mediaFlow, controlFlow, slowFlow, noneFlow] = flows;
    const client = (i: number) => `127.0.0.1:${exchanges[i]!.clientPort}`;

    assert.is(greetFlow!.src, client(0));
    assert.is(greetFlow!.dst, `127.0.0.1:${greetPort}`);
    assert.is(greetFlow!.protocol, 'greet');
    assert.is(greetFlow!.variant, 'default');
    assert.is(greetFlow!.reason, 'magic');
    assert.is(greetFlow!.key, '7');
    assert.equal(greetFlow!.packets, { forward: 3, reverse: 3 });
    assert.equal(greetFlow!.bytes, { forward: 8, reverse: 8 });
    assert.equal(greetFlow!.opened?.detail, { direction: 'forward' });
    assert.is(greetFlow!.closed?.reason, 'protocol_disconnect');
    assert.equal(greetFlow!.stats, { greetings: 4, lossRatio: 0.25 });

    assert.is(mediaFlow!.protocol, 'media');
    assert.is(mediaFlow!.key, '42');
    // The BYE arrived on the control flow; the session book closed the media flow of that key.
    assert.is(mediaFlow!.closed?.reason, 'bye');
    assert.is(controlFlow!.protocol, 'control');
    assert.is(controlFlow!.closed?.reason, 'bye');
    assert.equal(controlFlow!.packets, { forward: 1, reverse: 0 });
    assert.is(mediaFlow!.closed?.at, controlFlow!.firstAt);

    assert.is(slowFlow!.protocol, 'unknown');
    assert.is(slowFlow!.reason, 'window_exhausted');
    assert.is(slowFlow!.variant, null);
    assert.equal(slowFlow!.packets, { forward: 2, reverse: 2 });
    assert.is(noneFlow!.reason, 'no_protocol_matched');
    assert.equal(noneFlow!.verdicts, {
      greet: 'no_magic',
      media: 'no_marker',
      control: 'no_marker',
      slow: 'no_marker',
    });

    for (let i = 1; i < flows.length; i++)
      assert.ok(flows[i]!.firstAt! >= flows[i - 1]!.firstAt!, 'ordered by first datagram');

    const filtered = await inspectFile(file, {
      registry: createRegistry({ protocols: testProtocols() }),
      udpPort: mediaPort,
    });
    assert.is(filtered.flows.length, 1);
    assert.is(filtered.skipped.filtered, 12);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
