import { spawn } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { packageRoot, runningFromSources } from './helpers/paths.js';

// Streaming: a capture far larger than the memory budget is read by the CLI
// in a child process whose peak RSS must stay well below the file size.

const FILE_BYTES = 320 * 1024 * 1024;
const RSS_LIMIT_BYTES = 150 * 1024 * 1024;
const PAYLOAD = 1400;
const FLOWS = 4;

/** One Ethernet/IPv4/UDP frame from 10.0.0.<flow+1>:40000+flow to 10.0.0.100:7777. */
function frame(flow: number, sequence: number): Uint8Array {
  const out = new Uint8Array(14 + 20 + 8 + PAYLOAD);
  const v = new DataView(out.buffer);
  v.setUint16(12, 0x0800);
  out[14] = 0x45;
  v.setUint16(16, 20 + 8 + PAYLOAD);
  out[14 + 8] = 64;
  out[14 + 9] = 17;
  out.set([10, 0, 0, flow + 1, 10, 0, 0, 100], 14 + 12);
  v.setUint16(34, 40000 + flow);
  v.setUint16(36, 7777);
  v.setUint16(38, 8 + PAYLOAD);
  v.setUint32(42, sequence);
  return out;
}

async function writeLargePcap(path: string): Promise<number> {
  const handle = await open(path, 'w');
  try {
    const header = new Uint8Array(24);
    const hv = new DataView(header.buffer);
    hv.setUint32(0, 0xa1b2c3d4, true);
    hv.setUint16(4, 2, true);
    hv.setUint16(6, 4, true);
    hv.setUint32(16, 65535, true);
    hv.setUint32(20, 1, true);
    await handle.write(header);
    const recordBytes = 16 + 14 + 20 + 8 + PAYLOAD;
    const perChunk = 2048;
    const chunk = new Uint8Array(perChunk * recordBytes);
    const cv = new DataView(chunk.buffer);
    for (let i = 0; i < perChunk; i++) {
      const o = i * recordBytes;
      cv.setUint32(o + 8, recordBytes - 16, true);
      cv.setUint32(o + 12, recordBytes - 16, true);
      chunk.set(frame(i % FLOWS, i), o + 16);
    }
    let written = 24;
    let records = 0;
    for (let round = 0; written < FILE_BYTES; round++) {
      for (let i = 0; i < perChunk; i++) {
        const micros = (round * perChunk + i) * 100;
        cv.setUint32(i * recordBytes, 1_700_000_000 + Math.floor(micros / 1e6), true);
        cv.setUint32(i * recordBytes + 4, micros % 1e6, true);
      }
      await handle.write(chunk);
      written += chunk.length;
      records += perChunk;
    }
    return records;
  } finally {
    await handle.close();
  }
}

test('a 320 MB capture is streamed: all packets counted, peak RSS under 150 MB', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gm-inspect-large-'));
  try {
    const path = join(dir, 'large.pcap');
    const records = await writeLargePcap(path);
    const cli = runningFromSources()
      ? join(packageRoot(), 'src', 'inspect', 'cli.ts')
      : join(packageRoot(), 'dist', 'src', 'inspect', 'cli.js');
    const script = `
      const { main } = await import(${JSON.stringify(pathToFileURL(cli).href)});
      let out = '';
      const code = await main(['--json', ${JSON.stringify(path)}], { stdout: { write: (t) => { out += t; } }, stderr: { write: () => {} } }, { builtins: () => [] });
      process.stdout.write(JSON.stringify({ code, maxRssKiB: process.resourceUsage().maxRSS, flows: out.trim().split('\\n').map((l) => JSON.parse(l)) }));
    `;
    const args = [
      ...(runningFromSources() ? ['--import', 'tsx'] : []),
      '--input-type=module',
      '-e',
      script,
    ];
    const child = spawn(process.execPath, args, {
      cwd: packageRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.is(code, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const result = JSON.parse(stdout) as {
      code: number;
      maxRssKiB: number;
      flows: { packets: { forward: number } }[];
    };
    assert.is(result.code, 0);
    assert.is(result.flows.length, FLOWS);
    assert.is(
      result.flows.reduce((n, f) => n + f.packets.forward, 0),
      records,
    );
    const peak = result.maxRssKiB * 1024;
    assert.ok(
      peak < RSS_LIMIT_BYTES,
      `peak RSS ${(peak / 1048576).toFixed(1)} MiB for a ${(FILE_BYTES / 1048576).toFixed(0)} MiB file`,
    );
    process.stdout.write(
      `  large capture: ${records} records, peak RSS ${(peak / 1048576).toFixed(1)} MiB\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
