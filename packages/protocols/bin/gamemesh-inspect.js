#!/usr/bin/env node
// Thin launcher so the bin works from a workspace link; the CLI lives in src/inspect/cli.ts.
import { main } from '../dist/src/inspect/cli.js';

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
