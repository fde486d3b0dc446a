#!/usr/bin/env node
// `npm start`: the local demo (scripts/demo/demo.mjs): matchmaker, node proxy,
// two game servers and scripted players on 127.0.0.1, until Ctrl-C.
// The earlier capture walk-through is `npm run inspect-sample`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = [
  ['packages', 'matchmaker', 'dist', 'src', 'cli.js'],
  ['packages', 'node-proxy', 'dist', 'src', 'cli.js'],
  ['packages', 'protocols', 'dist', 'src', 'netcode', 'index.js'],
];
if (!built.every((parts) => existsSync(join(root, ...parts)))) {
  console.error(
    'gamemesh is not built yet: run `npm install` (it builds every package) and try again.',
  );
  process.exit(1);
}

const { runDemo } = await import('./demo/demo.mjs');
await runDemo();
