#!/usr/bin/env node
// Runs a package's compiled uvu suites and holds them to their own count:
// uvu can stop a suite early without failing when an error cannot be
// formatted, so "Total" must equal "Passed" (plus "Skipped") or the run fails.
// Ends with a plain "N passed, N failed" line.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const [dir = 'dist/test', pattern = '\\.test\\.js$'] = process.argv.slice(2);
// uvu's package exports hide bin.js; it sits beside dist/ in the package.
const uvuBin = join(dirname(createRequire(import.meta.url).resolve('uvu')), '..', 'bin.js');
const child = spawn(process.execPath, [uvuBin, dir, pattern], { stdio: ['ignore', 'pipe', 'inherit'] });

let output = '';
child.stdout.on('data', (chunk) => {
  output += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const count = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0);
  const total = count('Total');
  const passed = count('Passed');
  const skipped = count('Skipped');
  const failed = total - passed - skipped;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  if (total === 0) {
    console.error(`no tests ran in ${dir}`);
    process.exit(1);
  }
  process.exit(code !== 0 || failed !== 0 ? 1 : 0);
});
