#!/usr/bin/env node
// `npm run inspect-sample`: inspect the bundled sample capture of real game traffic with
// gamemesh-inspect, first as a table and then one flow as JSON, so a newcomer
// sees what gamemesh reads out of each protocol.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const capture = join(root, 'examples', 'captures', 'sample.pcap');
const inspect = join(root, 'packages', 'protocols', 'bin', 'gamemesh-inspect.js');
const netcodeKey = join(root, 'examples', 'captures', 'sample.netcode-key');

if (!existsSync(join(root, 'packages', 'protocols', 'dist', 'src', 'inspect', 'cli.js'))) {
  console.error(
    'gamemesh is not built yet: run `npm install` (it builds every package) and try again.',
  );
  process.exit(1);
}

const { readFileSync } = await import('node:fs');
const key = existsSync(netcodeKey) ? readFileSync(netcodeKey, 'utf8').trim() : null;
const args = [inspect, ...(key ? ['--netcode-key', key] : []), capture];
console.log(
  `$ gamemesh-inspect ${key ? '--netcode-key <sample key> ' : ''}examples/captures/sample.pcap\n`,
);
const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
console.log(
  '\nThe same flows as JSON lines: npx gamemesh-inspect --json examples/captures/sample.pcap',
);
console.log(
  'Your own capture: npx gamemesh-inspect <file.pcap|file.pcapng>   (see docs/inspect.md)',
);
process.exit(run.status ?? 1);
