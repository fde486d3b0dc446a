import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concat } from '../support/bytes.js';
import { ipOfEthernet, splitPcap, writePcap, writePcapng } from './helpers/capture-writer.js';
import { type Decoded, decodeAll } from './helpers/collect.js';
import { captureWith, type Exchange, echoExchange, freePort } from './helpers/tcpdump.js';

// Real captures: tcpdump records loopback traffic from node:dgram sockets; the
// reader must return exactly the payloads the sockets sent, in wire order.

const SIZES = [0, 1, 17, 200, 1400, 9000];
const payloads = SIZES.map((size, i) =>
  Uint8Array.from({ length: size }, (_, j) => (j * 31 + i * 7) & 0xff),
);

async function capture(
  family: 'udp4' | 'udp6',
  extra: { iface?: 'lo' | 'any'; linkType?: string; snaplen?: number; nanoseconds?: boolean } = {},
): Promise<{ file: Uint8Array; exchange: Exchange; before: number; after: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'gm-inspect-'));
  try {
    const port = await freePort(family);
    const host = family === 'udp4' ? '127.0.0.1' : '::1';
    const path = join(dir, 'capture.pcap');
    const before = Date.now();
    const exchange = await captureWith(
      {
        file: path,
        filter: `udp and host ${host} and port ${port}`,
        expectedFrames: payloads.length * 2,
        ...extra,
      },
      () => echoExchange(family, payloads, { serverPort: port }),
    );
    const after = Date.now();
    return { file: new Uint8Array(await readFile(path)), exchange, before, after };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function assertMatchesExchange(
  datagrams: readonly Decoded[],
  exchange: Exchange,
  host: string,
): void {
  assert.is(datagrams.length, exchange.sent.length, 'one datagram per sent payload');
  const client = host.includes(':')
    ? `[${host}]:${exchange.clientPort}`
    : `${host}:${exchange.clientPort}`;
  const server = host.includes(':')
    ? `[${host}]:${exchange.serverPort}`
    : `${host}:${exchange.serverPort}`;
  exchange.sent.forEach((sent, i) => {
    const got = datagrams[i]!;
    assert.is(got.src, sent.direction === 'forward' ? client : server, `src of #${i}`);
    assert.is(got.dst, sent.direction === 'forward' ? server : client, `dst of #${i}`);
    assert.equal(got.payload, sent.data, `payload of #${i}`);
  });
}

function assertTimesWithin(datagrams: readonly Decoded[], before: number, after: number): void {
  for (const d of datagrams) {
    assert.ok(
      d.at >= before - 5 && d.at <= after + 5,
      `timestamp ${d.at} within [${before}, ${after}]`,
    );
  }
  for (let i = 1; i < datagrams.length; i++)
    assert.ok(datagrams[i]!.at >= datagrams[i - 1]!.at, 'time order');
}

test('IPv4 on lo (Ethernet link): every payload, both directions, in order', async () => {
  const { file, exchange, before, after } = await capture('udp4');
  const { datagrams, summary } = await decodeAll(file, 4096);
  assert.is(summary.format, 'pcap');
  assert.equal(summary.linkTypes, [1]);
  assert.is(summary.error, null);
  assert.is(summary.bytesRead, file.length);
  assertMatchesExchange(datagrams, exchange, '127.0.0.1');
  assertTimesWithin(datagrams, before, after);
});

test('IPv6 on ::1: addresses in brackets, payloads exact', async () => {
  const { file, exchange } = await capture('udp6');
  const { datagrams, summary } = await decodeAll(file);
  assert.is(summary.error, null);
  assertMatchesExchange(datagrams, exchange, '::1');
});

test('Linux cooked v1 and v2 captures (-i any -y LINUX_SLL / LINUX_SLL2)', async () => {
  for (const [linkType, number] of [
    ['LINUX_SLL', 113],
    ['LINUX_SLL2', 276],
  ] as const) {
    const { file, exchange } = await capture('udp4', { iface: 'any', linkType });
    const { datagrams, summary } = await decodeAll(file);
    assert.equal(summary.linkTypes, [number], linkType);
    assert.is(summary.error, null);
    assertMatchesExchange(datagrams, exchange, '127.0.0.1');
  }
});

test('nanosecond pcap (0xa1b23c4d): format pcap-ns, same payloads, times in range', async () => {
  const { file, exchange, before, after } = await capture('udp4', { nanoseconds: true });
  assert.equal([...file.subarray(0, 4)], [0x4d, 0x3c, 0xb2, 0xa1]);
  const { datagrams, summary } = await decodeAll(file);
  assert.is(summary.format, 'pcap-ns');
  assertMatchesExchange(datagrams, exchange, '127.0.0.1');
  assertTimesWithin(datagrams, before, after);
});

test('snaplen cut: payloads cut by the snaplen are counted as truncated, the rest read', async () => {
  const { file, exchange } = await capture('udp4', { snaplen: 300 });
  const { datagrams, skipped, summary } = await decodeAll(file);
  assert.is(summary.error, null);
  // 14 Ethernet + 20 IPv4 + 8 UDP = 42 bytes of headers fit before the payload.
  const fits = exchange.sent.filter((s) => s.data.length + 42 <= 300);
  assert.is(datagrams.length, fits.length);
  assert.is(skipped.truncated, exchange.sent.length - fits.length);
  for (const [i, d] of datagrams.entries()) assert.equal(d.payload, fits[i]!.data);
});

test('big-endian classic pcap re-encoding of a real capture reads the same', async () => {
  const { file, exchange } = await capture('udp4');
  const real = splitPcap(file);
  for (const nanoseconds of [false, true]) {
    const swapped = writePcap(
      { linkType: real.linkType, bigEndian: true, nanoseconds },
      real.records,
    );
    const { datagrams, summary } = await decodeAll(swapped, 1024);
    assert.is(summary.format, nanoseconds ? 'pcap-ns' : 'pcap');
    assertMatchesExchange(datagrams, exchange, '127.0.0.1');
    for (const [i, d] of datagrams.entries())
      assert.ok(Math.abs(d.at - real.records[i]!.at) < 0.002, 'timestamp');
  }
});

test('pcapng: both byte orders, two sections, if_tsresol, SPB, unknown blocks skipped', async () => {
  const { file, exchange } = await capture('udp4');
  const real = splitPcap(file);
  const half = Math.ceil(real.records.length / 2);
  const first = real.records.slice(0, half);
  const second = real.records.slice(half);
  const ng = writePcapng([
    {
      interfaces: [{ linkType: 1 }, { linkType: 1, tsresol: 9 }],
      blocks: [
        { kind: 'opaque', type: 0x00000004, body: new Uint8Array(8) }, // name resolution block
        ...first.map((record, i) => ({ kind: 'epb' as const, iface: i % 2, record })),
        { kind: 'opaque', type: 0x00000bad, body: new Uint8Array(37) }, // custom/unknown block
      ],
    },
    {
      bigEndian: true,
      interfaces: [{ linkType: 1, tsresol: 0x80 | 20 }], // 2^-20 s units
      blocks: [
        ...second.map((record) => ({ kind: 'epb' as const, iface: 0, record })),
        { kind: 'opaque', type: 0x00000005, body: new Uint8Array(20) }, // interface statistics
      ],
    },
  ]);
  const { datagrams, summary } = await decodeAll(ng, 512);
  assert.is(summary.format, 'pcapng');
  assert.is(summary.error, null);
  assert.is(summary.sections, 2);
  assert.is(summary.skippedBlocks, 3);
  assert.is(summary.bytesRead, ng.length);
  assertMatchesExchange(datagrams, exchange, '127.0.0.1');
  for (const [i, d] of datagrams.entries())
    assert.ok(Math.abs(d.at - real.records[i]!.at) < 0.002, `timestamp of #${i}`);

  // A simple packet block has no timestamp: it takes the previous packet's time.
  const withSimple = writePcapng([
    {
      interfaces: [{ linkType: 1 }],
      blocks: [
        { kind: 'epb', iface: 0, record: real.records[0]! },
        { kind: 'spb', data: real.records[1]!.data },
      ],
    },
  ]);
  const simple = await decodeAll(withSimple);
  assert.is(simple.datagrams.length, 2);
  assert.equal(simple.datagrams[1]!.payload, exchange.sent[1]!.data);
  assert.is(simple.datagrams[1]!.at, simple.datagrams[0]!.at);
});

test('BSD null (both host orders), OpenBSD loop and raw-IP link types carry the real IP packets', async () => {
  const { file, exchange } = await capture('udp4');
  const v6 = await capture('udp6');
  const real = splitPcap(file);
  const real6 = splitPcap(v6.file);
  const withPrefix = (records: typeof real.records, prefix: (r: Uint8Array) => Uint8Array) =>
    records.map((r) => ({ at: r.at, data: concat([prefix(r.data), ipOfEthernet(r.data)]) }));
  const family = (value: number, littleEndian: boolean) => () => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value, littleEndian);
    return b;
  };
  const none = () => new Uint8Array(0);
  const cases: {
    name: string;
    linkType: number;
    v4: (r: Uint8Array) => Uint8Array;
    v6: (r: Uint8Array) => Uint8Array;
  }[] = [
    { name: 'null little-endian host', linkType: 0, v4: family(2, true), v6: family(30, true) },
    { name: 'null big-endian host', linkType: 0, v4: family(2, false), v6: family(24, false) },
    { name: 'OpenBSD loop', linkType: 108, v4: family(2, false), v6: family(24, false) },
    { name: 'raw 101', linkType: 101, v4: none, v6: none },
    { name: 'raw 12', linkType: 12, v4: none, v6: none },
    { name: 'raw 14', linkType: 14, v4: none, v6: none },
  ];
  for (const c of cases) {
    const four = await decodeAll(
      writePcap({ linkType: c.linkType }, withPrefix(real.records, c.v4)),
    );
    assertMatchesExchange(four.datagrams, exchange, '127.0.0.1');
    const six = await decodeAll(
      writePcap({ linkType: c.linkType }, withPrefix(real6.records, c.v6)),
    );
    assertMatchesExchange(six.datagrams, v6.exchange, '::1');
  }
  const only4 = await decodeAll(writePcap({ linkType: 228 }, withPrefix(real.records, none)));
  assertMatchesExchange(only4.datagrams, exchange, '127.0.0.1');
  const only6 = await decodeAll(writePcap({ linkType: 229 }, withPrefix(real6.records, none)));
  assertMatchesExchange(only6.datagrams, v6.exchange, '::1');
  // LINKTYPE_IPV4 must not accept IPv6 packets.
  const wrong = await decodeAll(writePcap({ linkType: 228 }, withPrefix(real6.records, none)));
  assert.is(wrong.datagrams.length, 0);
  assert.is(wrong.skipped.bad_ip, real6.records.length);
});

test('802.1Q and QinQ VLAN tags are walked', async () => {
  const { file, exchange } = await capture('udp4');
  const real = splitPcap(file);
  const tag = (tpid: number, vid: number) =>
    Uint8Array.of(tpid >> 8, tpid & 0xff, vid >> 8, vid & 0xff);
  for (const tags of [[tag(0x8100, 10)], [tag(0x88a8, 100), tag(0x8100, 20)]]) {
    const tagged = real.records.map((r) => ({
      at: r.at,
      data: concat([r.data.subarray(0, 12), ...tags, r.data.subarray(12)]),
    }));
    const { datagrams } = await decodeAll(writePcap({ linkType: 1 }, tagged));
    assertMatchesExchange(datagrams, exchange, '127.0.0.1');
  }
});

test('frames of unsupported link types are counted, not misread', async () => {
  const { file } = await capture('udp4');
  const real = splitPcap(file);
  const { datagrams, skipped, summary } = await decodeAll(
    writePcap({ linkType: 147 }, real.records),
  );
  assert.is(summary.error, null);
  assert.is(datagrams.length, 0);
  assert.is(skipped.unsupported_link, real.records.length);
});

test('IPv4 fragments are counted, never read as UDP; IPv6 extension headers are walked', async () => {
  const { file } = await capture('udp4');
  const real = splitPcap(file);
  const big = real.records.find((r) => r.data.length === 14 + 20 + 8 + 1400)!;
  const ip = ipOfEthernet(big.data);
  const ether = big.data.subarray(0, 14);
  const fragment = (offsetUnits: number, more: boolean, body: Uint8Array) => {
    const header = ip.slice(0, 20);
    const v = new DataView(header.buffer);
    v.setUint16(2, 20 + body.length);
    v.setUint16(6, (more ? 0x2000 : 0) | offsetUnits);
    return concat([ether, header, body]);
  };
  const udpAndFirst800 = ip.subarray(20, 20 + 808);
  // The later fragment's first bytes are payload; make them look like a plausible UDP header.
  const rest = ip.slice(20 + 808);
  rest.set([0x1f, 0x90, 0x1f, 0x91, 0x00, 0x10, 0, 0]);
  const fragmented = await decodeAll(
    writePcap({ linkType: 1 }, [
      { at: big.at, data: fragment(0, true, udpAndFirst800) },
      { at: big.at, data: fragment(101, false, rest) },
    ]),
  );
  assert.is(fragmented.datagrams.length, 0);
  assert.equal(fragmented.skipped, { fragment_first: 1, fragment_later: 1 });

  const six = await capture('udp6');
  const real6 = splitPcap(six.file);
  const r6 = real6.records.find((r) => r.data.length === 14 + 40 + 8 + 1400)!;
  const header6 = r6.data.slice(14, 54);
  const upper = r6.data.subarray(54);
  const withExtensions = (extensions: Uint8Array, first: number) => {
    const h = header6.slice();
    const v = new DataView(h.buffer);
    v.setUint16(4, v.getUint16(4) + extensions.length);
    h[6] = first;
    return { at: r6.at, data: concat([r6.data.subarray(0, 14), h, extensions, upper]) };
  };
  const hopByHop = Uint8Array.of(60, 0, 1, 4, 0, 0, 0, 0); // next: destination options; PadN
  const destination = Uint8Array.of(43, 1, 1, 12, ...new Array(12).fill(0)); // next: routing; 16 bytes
  const routing = Uint8Array.of(17, 0, 0, 0, 0, 0, 0, 0); // next: UDP; segments left 0
  const unfragmented = Uint8Array.of(17, 0, 0, 0, 0, 0, 0, 1); // fragment header, offset 0, M 0
  const laterFragment = Uint8Array.of(17, 0, 0x01, 0x00, 0, 0, 0, 2); // offset 32 units
  const firstFragment = Uint8Array.of(17, 0, 0, 1, 0, 0, 0, 3); // offset 0, M 1
  const walked = await decodeAll(
    writePcap({ linkType: 1 }, [
      withExtensions(concat([hopByHop, destination, routing]), 0),
      withExtensions(unfragmented, 44),
      withExtensions(laterFragment, 44),
      withExtensions(firstFragment, 44),
    ]),
  );
  assert.is(walked.datagrams.length, 2);
  for (const d of walked.datagrams) assert.equal(d.payload, upper.subarray(8));
  assert.equal(walked.skipped, { fragment_later: 1, fragment_first: 1 });
});

test.run();
