/**
 * Datagrams per second through each built-in protocol's probe and through
 * the whole classification pipeline (flow lookup, classifier, tracker) on a
 * mixed capture of real traffic. Each figure is read against a baseline run
 * in the same process, interleaved with it: the cheapest possible probe
 * (length check and one byte compare) for probes, and a flow table that only
 * counts packets for the pipeline.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createClassifier,
  createFlow,
  createRegistry,
  type Datagram,
  type Flow,
  type Protocol,
} from '@gamemesh/core';
import { builtinProtocols } from '@gamemesh/protocols';
import { type CapturedDatagram, readUdpDatagrams } from '@gamemesh/protocols/inspect';
import { type BenchCase, type BenchResult, formatRate, measure } from './measure.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(root, 'packages', 'protocols', 'test', 'fixtures');

/** Which capture holds each protocol's real traffic. */
const CAPTURES: Record<string, string> = {
  raknet: join(fixtures, 'raknet', 'raknet-session.pcap'),
  kcp: join(fixtures, 'kcp', 'kcp-session.pcap'),
  netcode: join(fixtures, 'netcode', 'netcode-session.pcap'),
  rtp: join(fixtures, 'rtp', 'rtp-h264-opus.pcap'),
  rtcp: join(fixtures, 'rtp', 'rtp-h264-opus.pcap'),
};
const MIXED = join(root, 'examples', 'captures', 'sample.pcap');

interface FlowDatagram {
  readonly flowKey: string;
  readonly datagram: Datagram;
}

/** Assigns directions the way a proxy sees them: the sender of a flow's first datagram is `forward`. */
function toFlowDatagrams(captured: readonly CapturedDatagram[]): FlowDatagram[] {
  const firstSender = new Map<string, string>();
  return captured.map((c) => {
    const a = `${c.sourceAddress}:${c.sourcePort}`;
    const b = `${c.destinationAddress}:${c.destinationPort}`;
    const flowKey = a < b ? `${a}|${b}` : `${b}|${a}`;
    if (!firstSender.has(flowKey)) firstSender.set(flowKey, a);
    const direction = firstSender.get(flowKey) === a ? 'forward' : 'reverse';
    return { flowKey, datagram: { data: c.payload, direction, at: c.at } };
  });
}

const NO_HISTORY: readonly Datagram[] = [];

function baselineProbeCase(datagrams: readonly Datagram[]): BenchCase {
  return {
    name: 'baseline: length + one byte',
    items: datagrams.length,
    run: () => {
      let hits = 0;
      for (const d of datagrams) if (d.data.length >= 4 && d.data[0] === 0x80) hits++;
      return hits;
    },
  };
}

function probeCase(protocol: Protocol, datagrams: readonly Datagram[], label: string): BenchCase {
  return {
    name: `${protocol.name}.probe on ${label}`,
    items: datagrams.length,
    run: () => {
      let matches = 0;
      for (const d of datagrams) if (protocol.probe(d, NO_HISTORY).verdict === 'match') matches++;
      return matches;
    },
  };
}

function pipelineCases(datagrams: readonly FlowDatagram[], protocols: Protocol[]): BenchCase[] {
  const classifier = createClassifier(createRegistry({ protocols }));
  return [
    {
      name: 'baseline: flow table, counters only',
      items: datagrams.length,
      run: () => {
        const flows = new Map<string, { packets: number; bytes: number }>();
        for (const { flowKey, datagram } of datagrams) {
          let flow = flows.get(flowKey);
          if (flow === undefined) {
            flow = { packets: 0, bytes: 0 };
            flows.set(flowKey, flow);
          }
          flow.packets++;
          flow.bytes += datagram.data.length;
        }
        return flows.size;
      },
    },
    {
      name: 'classifier + trackers (every flow new each run)',
      items: datagrams.length,
      run: () => {
        const flows = new Map<string, Flow>();
        for (const { flowKey, datagram } of datagrams) {
          let flow = flows.get(flowKey);
          if (flow === undefined) {
            flow = createFlow(classifier);
            flows.set(flowKey, flow);
          }
          flow.observe(datagram);
        }
        return flows.size;
      },
    },
  ];
}

function printTable(title: string, results: readonly BenchResult[]): void {
  console.log(`\n${title}`);
  console.log(
    `${'case'.padEnd(52)} ${'datagrams/s'.padStart(12)} ${'ns/datagram'.padStart(12)} ${'vs baseline'.padStart(12)}`,
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(52)} ${formatRate(r.perSecond).padStart(12)} ${r.nsPerItem.toFixed(1).padStart(12)} ${`${r.ratio.toFixed(3)}x`.padStart(12)}`,
    );
  }
}

async function main(): Promise<void> {
  const protocols = builtinProtocols();
  const all: Record<string, BenchResult[]> = {};

  const mixedPath = existsSync(MIXED) ? MIXED : null;
  const mixedCaptured: CapturedDatagram[] = [];
  if (mixedPath !== null) mixedCaptured.push(...(await readUdpDatagrams(mixedPath)).datagrams);
  else
    for (const path of new Set(Object.values(CAPTURES)))
      mixedCaptured.push(...(await readUdpDatagrams(path)).datagrams);
  const mixed = toFlowDatagrams(mixedCaptured);
  const mixedDatagrams = mixed.map((m) => m.datagram);

  for (const protocol of protocols) {
    const path = CAPTURES[protocol.name];
    if (path === undefined) continue;
    const own = toFlowDatagrams((await readUdpDatagrams(path)).datagrams).map((m) => m.datagram);
    const results = measure([
      baselineProbeCase(own),
      probeCase(protocol, own, 'its own traffic'),
      probeCase(protocol, mixedDatagrams, 'mixed traffic'),
    ]);
    printTable(
      `probe: ${protocol.name} (${own.length} real datagrams; mixed: ${mixedDatagrams.length})`,
      results,
    );
    all[`probe:${protocol.name}`] = results;
  }

  const pipeline = measure(pipelineCases(mixed, protocols));
  printTable(
    `pipeline on ${mixedPath === null ? 'all protocol fixtures' : 'examples/captures/sample.pcap'} (${mixed.length} datagrams, ${new Set(mixed.map((m) => m.flowKey)).size} flows)`,
    pipeline,
  );
  all.pipeline = pipeline;

  const out = join(root, 'benchmarks', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'probe-throughput.json'),
    `${JSON.stringify({ node: process.version, at: new Date().toISOString(), results: all }, null, 2)}\n`,
  );
  console.log(`\nresults written to benchmarks/results/probe-throughput.json`);
}

await main();
