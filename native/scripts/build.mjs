#!/usr/bin/env node
// Builds the addon with node-gyp at install time. When the build cannot run,
// it says which tool is missing before failing, so `npm install` never ends in
// an unexplained gyp trace.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function fail(message) {
  console.error(`@gamemesh/native: cannot build the native addon: ${message}`);
  process.exit(1);
}

function hasTool(command, args = ['--version']) {
  const result = spawnSync(command, args, { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/** node-gyp: the one npm runs scripts with, else npm's bundled copy, else a local install. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const npmCli = process.env.npm_execpath;
  if (npmCli) {
    candidates.push(join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  candidates.push(
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  );
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally: the other candidates remain
  }
  return candidates.find((path) => existsSync(path));
}

if (process.platform !== 'linux')
  fail(`the data plane uses epoll and recvmmsg, which need Linux (this is ${process.platform})`);
const python = ['python3', 'python'].find((name) => hasTool(name));
if (python === undefined) fail('python3 is missing (node-gyp needs it): install python3');
if (!hasTool('make'))
  fail('make is missing: install make (Debian: apt-get install build-essential)');
const compiler = [process.env.CC, 'cc', 'gcc', 'clang']
  .filter(Boolean)
  .find((name) => hasTool(name));
if (compiler === undefined)
  fail(
    'no C compiler found (cc, gcc or clang): install gcc (Debian: apt-get install build-essential)',
  );
const nodeGyp = findNodeGyp();
if (nodeGyp === undefined)
  fail('node-gyp was not found (it ships with npm): reinstall npm or add node-gyp');

// Headers: the ones installed beside this node binary when present, so the
// build needs no download (npm passes its own nodedir setting through env).
const args = [nodeGyp, 'rebuild'];
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
const result = spawnSync(process.execPath, args, {
  cwd: packageRoot,
  stdio: 'inherit',
  env: { ...process.env, PYTHON: process.env.PYTHON ?? python },
});
if (result.error !== undefined) fail(`node-gyp could not start: ${result.error.message}`);
if (result.status !== 0)
  fail(`node-gyp exited with status ${result.status} (see the compiler output above)`);
