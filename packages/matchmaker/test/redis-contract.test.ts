/**
 * The store contract on Redis: the suites the memory store passes (HTTP API,
 * allocation, the proxy link, the end-to-end flow) run again, unchanged, with
 * every matchmaker they start on a RedisStore backed by a real redis-server.
 * Each matchmaker gets its own key prefix, so tests do not see each other.
 */
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisStore } from '../src/store/redis.js';
import { useStoreFactory } from './support/harness.js';
import { startRedisServer } from './support/redis-server.js';
import './api.test.js';
import './allocation.test.js';
import './link.test.js';
import './flow.test.js';

// Static imports above only register the suites; uvu runs them after this
// module's synchronous body, so the factory is in place before the first test.
const server = startRedisServer();
useStoreFactory(async (clock) =>
  RedisStore.connect((await server).url, {
    prefix: `gm:test:${randomUUID()}:`,
    ...(clock === undefined ? {} : { clock }),
  }),
);

const teardown = suite('redis-server');
teardown('the suites above ran on it, then it stops', async () => {
  const running = await server;
  const store = await RedisStore.connect(running.url);
  try {
    // Tickets, nodes, routes of every suite: proof they used Redis, not memory.
    const keys = await store.client.dbsize();
    assert.ok(keys > 100, `${keys} keys in Redis`);
  } finally {
    await store.close();
    await running.stop();
  }
});
teardown.run();
