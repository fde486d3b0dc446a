#!/usr/bin/env node
// Thin launcher so the bin works from a workspace link; the CLI lives in src/cli.ts.
import { main } from '../dist/src/cli.js';

const result = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
});
if (typeof result === 'number') process.exitCode = result;
else {
  const stop = () => {
    result.drain().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.on('SIGHUP', () => void result.reload());
}
