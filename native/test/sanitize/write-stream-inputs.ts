import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Datagram } from '@gamemesh/core';
import { kcp } from '@gamemesh/protocols';
import { classifiedKcpVariant, nativeKcpConfig } from '../differential/kcp-native.js';
import { importProtocolsTestModule } from '../differential/protocols-test-modules.js';
import { captureFlows, fixturePath } from '../differential/support.js';

/**
 * Writes the real vectors of RakNet or KCP (committed captures and live
 * real-peer sessions) as one file per session in the format of
 * native/fuzz/tracker_input.h: the seed corpus of that protocol's fuzz
 * target and the input of its sanitizer replay program.
 *
 *   node --import tsx native/test/sanitize/write-stream-inputs.ts <raknet|kcp> <directory>
 */

interface Vector {
  readonly name: string;
  readonly variant: number;
  readonly maxPushLen: number;
  readonly datagrams: readonly Datagram[];
}

const MAX_DELTA_MS = 127;

export function encodeVector(vector: Vector): Uint8Array {
  const size =
    3 + vector.datagrams.reduce((sum, d) => sum + 3 + Math.min(d.data.length, 0xffff), 0);
  const out = new Uint8Array(size);
  out[0] = vector.variant;
  out[1] = vector.maxPushLen & 0xff;
  out[2] = (vector.maxPushLen >>> 8) & 0xff;
  let offset = 3;
  let previous = vector.datagrams[0]?.at ?? 0;
  for (const d of vector.datagrams) {
    const delta = Math.max(0, Math.min(MAX_DELTA_MS, Math.round(d.at - previous)));
    previous = d.at;
    const length = Math.min(d.data.length, 0xffff);
    out[offset] = (delta << 1) | (d.direction === 'reverse' ? 1 : 0);
    out[offset + 1] = length & 0xff;
    out[offset + 2] = length >>> 8;
    out.set(d.data.subarray(0, length), offset + 3);
    offset += 3 + length;
  }
  return out;
}

type KcpVectors = typeof import('../../../packages/protocols/test/kcp/vectors.js');

async function kcpVectors(): Promise<Vector[]> {
  const protocol = kcp.create();
  const flows: { name: string; datagrams: readonly Datagram[] }[] = [];
  const captured = await captureFlows(fixturePath('kcp', 'kcp-session.pcap'));
  for (const [i, datagrams] of captured.entries()) flows.push({ name: `capture-${i}`, datagrams });
  const live = await importProtocolsTestModule<KcpVectors>('kcp/vectors');
  const raw = await live.rawExchange();
  for (const [i, datagrams] of raw.flows.entries())
    flows.push({ name: `live-raw-${i}`, datagrams });
  flows.push({ name: 'live-fec', datagrams: (await live.fecExchange()).flows[0]! });
  flows.push({
    name: 'live-crypt-none',
    datagrams: (await live.cryptNoneExchange(false)).flows[0]!,
  });
  flows.push({
    name: 'live-crypt-none-fec',
    datagrams: (await live.cryptNoneExchange(true)).flows[0]!,
  });
  flows.push({ name: 'live-kcp2k', datagrams: (await live.kcp2kExchange()).flows[0]! });
  return flows.map(({ name, datagrams }) => {
    const config = nativeKcpConfig(classifiedKcpVariant(datagrams, protocol), protocol);
    return { name, variant: config.variant ?? 0, maxPushLen: config.maxPushLen ?? 0, datagrams };
  });
}

type RakNetSessions = typeof import('../../../packages/protocols/test/raknet/raknet-session.js');

/** RakNet sessions only: the capture's other flow is the server socket's wake-ups to itself. */
async function rakNetVectors(): Promise<Vector[]> {
  const vectors: Vector[] = [];
  const captured = await captureFlows(fixturePath('raknet', 'raknet-session.pcap'));
  const sessions = captured.filter((datagrams) => datagrams.length > 10);
  for (const [i, datagrams] of sessions.entries()) {
    vectors.push({ name: `capture-${i}`, variant: 0, maxPushLen: 0, datagrams });
  }
  const { runRakNetSession } =
    await importProtocolsTestModule<RakNetSessions>('raknet/raknet-session');
  for (const protocolVersion of [10, 11]) {
    const recording = await runRakNetSession({ relay: true, protocolVersion });
    vectors.push({
      name: `live-protocol-${protocolVersion}`,
      variant: 0,
      maxPushLen: 0,
      datagrams: recording.datagrams,
    });
  }
  return vectors;
}

const SOURCES: Readonly<Record<string, () => Promise<Vector[]>>> = {
  kcp: kcpVectors,
  raknet: rakNetVectors,
};

async function main(argv: readonly string[]): Promise<number> {
  const [protocol, directory] = argv;
  const source = protocol === undefined ? undefined : SOURCES[protocol];
  if (source === undefined || directory === undefined) {
    console.error(`usage: write-stream-inputs.ts <${Object.keys(SOURCES).join('|')}> <directory>`);
    return 2;
  }
  mkdirSync(directory, { recursive: true });
  const vectors = await source();
  for (const vector of vectors)
    writeFileSync(join(directory, `${vector.name}.vec`), encodeVector(vector));
  console.log(`${protocol}: ${vectors.length} vectors written to ${directory}`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
