/**
 * Writes the inputs of the native checks for netcode, RTP and RTCP from the
 * committed real captures: a vector file per protocol for the sanitizer
 * programs (format in tracker_vectors_driver.h: every capture flow plus
 * seeded mutations of them) and a libFuzzer seed corpus per protocol
 * (format in native/fuzz/tracker_fuzz_driver.h).
 *
 *   node --import tsx native/test/sanitize/write-tracker-inputs.ts OUT_DIR
 *   -> OUT_DIR/<proto>.vectors, OUT_DIR/corpus/<proto>/<n>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Datagram } from '@gamemesh/core';
import { fuzzedSequences } from '../differential/fuzz-sequences.js';
import { captureFlows, fixturePath, NATIVE_PROTO } from '../differential/support.js';

interface Target {
  readonly name: 'netcode' | 'rtp' | 'rtcp';
  readonly capture: readonly [string, string];
  /** Native config: variant and clock rate (RTP: 1 + PT with its clock, as the TS side hands over). */
  readonly variant: number;
  readonly clockRateHz: number;
}

const TARGETS: readonly Target[] = [
  { name: 'netcode', capture: ['netcode', 'netcode-session.pcap'], variant: 0, clockRateHz: 0 },
  { name: 'rtp', capture: ['rtp', 'rtp-h264-opus.pcap'], variant: 97, clockRateHz: 90000 },
  { name: 'rtcp', capture: ['rtp', 'rtp-h264-opus.pcap'], variant: 97, clockRateHz: 90000 },
];

const MUTATED_SEQUENCES = 5000;
// Keeps each seed under the fuzzers' -max_len (16384) even with 1200-byte datagrams.
const CORPUS_DATAGRAMS = 12;

class ByteWriter {
  private readonly chunks: Uint8Array[] = [];
  u8(value: number): void {
    this.chunks.push(Uint8Array.of(value & 0xff));
  }
  u16le(value: number): void {
    this.chunks.push(Uint8Array.of(value & 0xff, (value >>> 8) & 0xff));
  }
  u32le(value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    this.chunks.push(b);
  }
  f64le(value: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.chunks.push(b);
  }
  bytes(data: Uint8Array): void {
    this.chunks.push(data);
  }
  toBytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

function writeVectors(target: Target, sequences: Iterable<readonly Datagram[]>): Uint8Array {
  const out = new ByteWriter();
  for (const sequence of sequences) {
    out.u8(0x53); // 'S'
    out.u8(NATIVE_PROTO[target.name]);
    out.u8(target.variant);
    out.u32le(target.clockRateHz);
    for (const d of sequence) {
      out.u8(0x44); // 'D'
      out.u8(d.direction === 'forward' ? 0 : 1);
      out.f64le(d.at);
      out.u32le(d.data.length);
      out.bytes(d.data);
    }
  }
  return out.toBytes();
}

/** One fuzz input: config, then [dir | ms delta << 1][u16le length][bytes] per datagram. */
function corpusEntry(target: Target, datagrams: readonly Datagram[]): Uint8Array {
  const out = new ByteWriter();
  out.u8(target.variant);
  out.u32le(target.clockRateHz);
  let previous = datagrams[0]?.at ?? 0;
  for (const d of datagrams) {
    const delta = Math.max(0, Math.min(127, Math.round(d.at - previous)));
    previous = d.at;
    out.u8((delta << 1) | (d.direction === 'forward' ? 0 : 1));
    out.u16le(d.data.length);
    out.bytes(d.data);
  }
  return out.toBytes();
}

async function main(): Promise<void> {
  const outDir = process.argv[2];
  if (outDir === undefined) throw new Error('usage: write-tracker-inputs.ts OUT_DIR');
  for (const target of TARGETS) {
    const flows = await captureFlows(fixturePath(...target.capture));
    const sequences = [...flows, ...fuzzedSequences(flows, MUTATED_SEQUENCES, 0x5eed)];
    writeFileSync(join(outDir, `${target.name}.vectors`), writeVectors(target, sequences));
    const corpus = join(outDir, 'corpus', target.name);
    mkdirSync(corpus, { recursive: true });
    let n = 0;
    for (const flow of flows) {
      for (let i = 0; i < flow.length; i += CORPUS_DATAGRAMS) {
        writeFileSync(
          join(corpus, String(n++)),
          corpusEntry(target, flow.slice(i, i + CORPUS_DATAGRAMS)),
        );
      }
    }
    console.log(
      `${target.name}: ${flows.length} capture flows + ${MUTATED_SEQUENCES} mutated sequences, ${n} corpus entries`,
    );
  }
}

await main();
