#!/usr/bin/env node
// Runs a package's compiled uvu suites, each test file in its own Node
// process: some real peers (raknet-native) change process-wide state such as
// child-process reaping, so files must not share a process. Each file's own
// count is checked — uvu can stop a suite early without failing when an error
// cannot be formatted, so "Total" must equal "Passed" + "Skipped". Ends with
// a plain "N passed, N failed" line.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const [dir = 'dist/test', pattern = '\\.test\\.js$'] = process.argv.slice(2);
const matcher = new RegExp(pattern);

function findTests(folder) {
  const out = [];
  for (const name of readdirSync(folder).sort()) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (matcher.test(name)) out.push(path);
  }
  return out;
}

function runFile(file) {
  return new Promise((resolve) => {
    // Plain output: the counts below are read from it.
    const env = { ...process.env, NODE_DISABLE_COLORS: '1', FORCE_COLOR: '0' };
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.on('close', (code, signal) => {
      const count = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(output)?.[1] ?? 0);
      const total = count('Total');
      const passed = count('Passed');
      const skipped = count('Skipped');
      const ok = code === 0 && signal === null && total > 0 && total === passed + skipped;
      resolve({ file, total, passed, skipped, ok, code, signal });
    });
  });
}

const files = findTests(dir);
if (files.length === 0) {
  console.error(`no test files matching ${pattern} in ${dir}`);
  process.exit(1);
}
let passed = 0;
let failed = 0;
let skipped = 0;
const broken = [];
for (const file of files) {
  console.log(`\n# ${relative(process.cwd(), file)}`);
  const result = await runFile(file);
  passed += result.passed;
  skipped += result.skipped;
  const notPassed = Math.max(result.total - result.passed - result.skipped, result.ok ? 0 : 1);
  failed += notPassed;
  if (!result.ok)
    broken.push(
      `${relative(process.cwd(), file)} (exit ${result.code ?? result.signal}, ${result.passed}/${result.total} passed)`,
    );
}
if (broken.length > 0) console.error(`\nfailing test files:\n  ${broken.join('\n  ')}`);
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
// For the workspace-wide total printed by scripts/test-summary.mjs.
mkdirSync('dist', { recursive: true });
writeFileSync(
  'dist/test-results.json',
  `${JSON.stringify({ passed, failed, skipped, files: files.length })}\n`,
);
process.exit(failed === 0 ? 0 : 1);
