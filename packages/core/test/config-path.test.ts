import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dottedPath, firstProblemPerPath } from '../src/index.js';

test('JSON pointers read as YAML paths', () => {
  assert.is(dottedPath(''), '(root)');
  assert.is(dottedPath('/clusters/0/name'), 'clusters[0].name');
  assert.is(dottedPath('/a~1b/c~0d'), 'a/b.c~d');
  assert.is(dottedPath('/clockRates/96', 'protocols.rtp'), 'protocols.rtp.clockRates[96]');
});

test('one problem per path, the first', () => {
  assert.equal(
    firstProblemPerPath([
      { path: '/store', message: 'expected memory' },
      { path: '/store', message: 'expected redis URL' },
      { path: '/listen', message: 'expected string' },
    ]),
    [
      { path: 'store', problem: 'expected memory' },
      { path: 'listen', problem: 'expected string' },
    ],
  );
});

test.run();
