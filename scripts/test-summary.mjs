#!/usr/bin/env node
// Prints the workspace-wide test total after `turbo run test`: each
// package's runner (scripts/uvu.mjs) leaves dist/test-results.json behind.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { readdirSync } = await import('node:fs');

const folders = workspaces.flatMap((pattern) => {
  if (!pattern.endsWith('/*')) return [pattern];
  const parent = join(root, pattern.slice(0, -2));
  return existsSync(parent)
    ? readdirSync(parent).map((name) => `${pattern.slice(0, -2)}/${name}`)
    : [];
});

let passed = 0;
let failed = 0;
let skipped = 0;
for (const folder of folders) {
  const file = join(root, folder, 'dist', 'test-results.json');
  if (!existsSync(file)) continue;
  const result = JSON.parse(readFileSync(file, 'utf8'));
  console.log(
    `${folder}: ${result.passed} passed, ${result.failed} failed (${result.files} files)`,
  );
  passed += result.passed;
  failed += result.failed;
  skipped += result.skipped;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
