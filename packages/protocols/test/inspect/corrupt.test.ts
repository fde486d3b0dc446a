import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRandom, mutate } from '@gamemesh/core/testing';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeUdp } from '../../src/inspect/capture/ip.js';
import { locateIp } from '../../src/inspect/capture/link.js';
import { splitPcap, writePcapng } from './helpers/capture-writer.js';
import { decodeAll } from './helpers/collect.js';
import { captureWith, echoExchange, freePort } from './helpers/tcpdump.js';

// Truncated and corrupt captures end with an error value naming the byte
// offset, after delivering everything before it; nothing throws.

let real = new Uint8Array(0);

test.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gm-inspect-corrupt-'));
  try {
    const port = await freePort();
    const payloads = [10, 300, 1200, 40].map((n) => new Uint8Array(n).fill(n & 0xff));
    await captureWith(
      {
        file: join(dir, 'c.pcap'),
        filter: `udp and host 127.0.0.1 and port ${port}`,
        expectedFrames: 8,
      },
      () => echoExchange('udp4', payloads, { serverPort: port }),
    );
    real = new Uint8Array(await readFile(join(dir, 'c.pcap')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function withU32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset, value, true);
  return bytes;
}

function recordStarts(file: Uint8Array): number[] {
  const starts: number[] = [];
  const view = new DataView(file.buffer, file.byteOffset);
  for (let o = 24; o < file.length; o += 16 + view.getUint32(o + 8, true)) starts.push(o);
  return starts;
}

test('pcap cut mid file header, mid record header, mid record and on a boundary', async () => {
  const starts = recordStarts(real);
  assert.is(starts.length, 8);
  const cuts: {
    at: number;
    code: string | null;
    offset: number;
    frames: number;
    message?: RegExp;
  }[] = [
    {
      at: 0,
      code: 'GM_INSPECT_TRUNCATED',
      offset: 0,
      frames: 0,
      message: /format magic needs 4 bytes, 0 remain/,
    },
    {
      at: 10,
      code: 'GM_INSPECT_TRUNCATED',
      offset: 0,
      frames: 0,
      message: /pcap file header needs 24 bytes, 10 remain/,
    },
    {
      at: starts[3]! + 7,
      code: 'GM_INSPECT_TRUNCATED',
      offset: starts[3]!,
      frames: 3,
      message: /record header needs 16 bytes, 7 remain/,
    },
    {
      at: starts[5]! + 16 + 20,
      code: 'GM_INSPECT_TRUNCATED',
      offset: starts[5]!,
      frames: 5,
      message: /record needs \d+ bytes .*, 36 remain/,
    },
    { at: starts[6]!, code: null, offset: starts[6]!, frames: 6 },
  ];
  for (const cut of cuts) {
    for (const chunk of [64, 1 << 20]) {
      const { datagrams, summary } = await decodeAll(real.slice(0, cut.at), chunk);
      assert.is(summary.error?.code ?? null, cut.code, `cut at ${cut.at}`);
      if (cut.code !== null) {
        assert.is(summary.error!.offset, cut.offset, `offset for cut at ${cut.at}`);
        assert.match(summary.error!.message, cut.message!);
      }
      assert.is(datagrams.length, cut.frames, `frames before cut at ${cut.at}`);
    }
  }
});

test('pcap record claiming an impossible length is GM_INSPECT_BAD_RECORD', async () => {
  const bad = real.slice();
  const second = recordStarts(real)[1]!;
  new DataView(bad.buffer).setUint32(second + 8, 0x7fffffff, true);
  const { datagrams, summary } = await decodeAll(bad);
  assert.is(summary.error?.code, 'GM_INSPECT_BAD_RECORD');
  assert.is(summary.error?.offset, second);
  assert.is(datagrams.length, 1);
});

test('unknown magic is GM_INSPECT_UNKNOWN_FORMAT', async () => {
  const { summary } = await decodeAll(new TextEncoder().encode('GIF89a not a capture'));
  assert.is(summary.error?.code, 'GM_INSPECT_UNKNOWN_FORMAT');
  assert.is(summary.error?.offset, 0);
});

test('pcapng: corrupt block lengths and truncation name the block offset', async () => {
  const { records } = splitPcap(real);
  const ng = writePcapng([
    {
      interfaces: [{ linkType: 1 }],
      blocks: records.map((record) => ({ kind: 'epb' as const, iface: 0, record })),
    },
  ]);
  const view = new DataView(ng.buffer);
  const blocks: number[] = [];
  for (let o = 0; o < ng.length; o += view.getUint32(o + 4, true)) blocks.push(o);
  // blocks: SHB, IDB, then one EPB per record.
  const third = blocks[4]!;
  const variants: {
    name: string;
    edit: (b: Uint8Array) => Uint8Array;
    code: string;
    offset: number;
    frames: number;
  }[] = [
    {
      name: 'length not a multiple of 4',
      edit: (b) => withU32(b, third + 4, 101),
      code: 'GM_INSPECT_BAD_BLOCK',
      offset: third,
      frames: 2,
    },
    {
      name: 'length below the minimum',
      edit: (b) => withU32(b, third + 4, 8),
      code: 'GM_INSPECT_BAD_BLOCK',
      offset: third,
      frames: 2,
    },
    {
      name: 'trailer differs',
      edit: (b) => withU32(b, blocks[5]! - 4, 4),
      code: 'GM_INSPECT_BAD_BLOCK',
      offset: third,
      frames: 2,
    },
    {
      name: 'length past the end',
      edit: (b) => withU32(b, third + 4, 1 << 20),
      code: 'GM_INSPECT_TRUNCATED',
      offset: third,
      frames: 2,
    },
    {
      name: 'huge length',
      edit: (b) => withU32(b, third + 4, 0xfffffff0),
      code: 'GM_INSPECT_BAD_BLOCK',
      offset: third,
      frames: 2,
    },
    {
      name: 'unknown interface',
      edit: (b) => withU32(b, third + 8, 3),
      code: 'GM_INSPECT_BAD_BLOCK',
      offset: third,
      frames: 2,
    },
    {
      name: 'cut mid block',
      edit: (b) => b.slice(0, third + 30),
      code: 'GM_INSPECT_TRUNCATED',
      offset: third,
      frames: 2,
    },
    {
      name: 'cut mid block header',
      edit: (b) => b.slice(0, third + 5),
      code: 'GM_INSPECT_TRUNCATED',
      offset: third,
      frames: 2,
    },
    {
      name: 'bad byte-order magic',
      edit: (b) => withU32(b, 8, 0),
      code: 'GM_INSPECT_BAD_BLOCK',
      offset: 0,
      frames: 0,
    },
  ];
  for (const v of variants) {
    const { datagrams, summary } = await decodeAll(v.edit(ng.slice()), 256);
    assert.is(summary.error?.code, v.code, v.name);
    assert.is(summary.error?.offset, v.offset, v.name);
    assert.is(datagrams.length, v.frames, v.name);
  }
  // An unknown block with a bad trailer is caught too, without buffering it.
  const skipped = writePcapng([
    { interfaces: [], blocks: [{ kind: 'opaque', type: 0x0bad, body: new Uint8Array(4000) }] },
  ]);
  new DataView(skipped.buffer).setUint32(skipped.length - 4, 12, true);
  const result = await decodeAll(skipped, 64);
  assert.is(result.summary.error?.code, 'GM_INSPECT_BAD_BLOCK');
});

test('mutated captures never make the reader or decoders throw', async () => {
  const random = createRandom(7);
  const { records } = splitPcap(real);
  const ng = writePcapng([
    {
      interfaces: [{ linkType: 1 }],
      blocks: records.map((record) => ({ kind: 'epb' as const, iface: 0, record })),
    },
  ]);
  for (let i = 0; i < 3000; i++) {
    const input = mutate(random, i % 2 === 0 ? real : ng, [real, ng]);
    const { summary } = await decodeAll(input, 64 + random.int(512));
    assert.ok(summary.bytesRead <= input.length, 'stops inside the file');
  }
  // Frame decoders on mutated real frames, under every link type they know.
  const frames = records.map((r) => r.data);
  for (let i = 0; i < 200_000; i++) {
    const frame = mutate(random, random.pick(frames), frames);
    const linkType = random.pick([0, 1, 12, 14, 101, 108, 113, 228, 229, 276]);
    const link = locateIp(linkType, frame);
    if (typeof link !== 'string') decodeUdp(frame, link, random.int(2) === 0);
  }
});

test.run();
