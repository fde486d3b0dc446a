import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * The Redis store's atomic operations. Each decision that two matchmaker
 * replicas could race on is one script: Redis runs a script to completion
 * before any other command, so a check and the write that depends on it can
 * never interleave with another replica's.
 *
 * Key layout under the store's prefix P:
 *   P t:ID        hash  r = msgpackr ticket, s = state, m = queue member, p = pool, mid = claim
 *   P q:POOL      zset  queued tickets; all scores 0, members "createdAt|seq|id" sort by age
 *   P seq         counter breaking createdAt ties in creation order
 *   P done        zset  finished ticket ids by updatedAt (purge)
 *   P matched     zset  'matched' ticket ids by updatedAt (stale-claim recovery)
 *   P i:KEY       hash  idempotency claim: t = ticket id, f = fingerprint, x = expiry (PEXPIRE too)
 *   P n:NODE      string msgpackr node record;  P nodes  set of node ids
 *   P pods:NODE   hash  per pod: f|POD free slots, b|POD backfill slots, ok|POD 1 if it may take players
 *   P held:NODE   hash  per pod: match|POD, backfill|POD players held by pending reservations
 *   P res:ID      hash  reservation: node, pod, kind, n (players), x (expiry)
 *   P resx        zset  reservation ids by expiry
 *   P rt:NODE     hash  routing key → msgpackr route
 */

/** Releases one reservation: gives its held players back. Shared by several scripts. */
const DROP_RESERVATION = `
local function drop(prefix, id)
  local rk = prefix .. 'res:' .. id
  local r = redis.call('HMGET', rk, 'node', 'pod', 'kind', 'n', 'x')
  if not r[1] then return nil end
  redis.call('HINCRBY', prefix .. 'held:' .. r[1], r[3] .. '|' .. r[2], -tonumber(r[4]))
  redis.call('DEL', rk)
  redis.call('ZREM', prefix .. 'resx', id)
  return r
end
`;

const FINAL = `local final = { assigned = true, expired = true, cancelled = true }\n`;

/** KEYS: ticket, queue, seq, idempotency (or a dummy). ARGV: see RedisStore.createTicket. */
export const CREATE_TICKET = `
local prefix, id, blob, state, agePrefix, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local pool = ARGV[7]
if ARGV[8] == '1' then
  local rec = redis.call('HMGET', KEYS[4], 't', 'f', 'x')
  if rec[1] and tonumber(rec[3]) > now then
    if rec[2] ~= ARGV[9] then return { 'conflict' } end
    local original = redis.call('HGET', prefix .. 't:' .. rec[1], 'r')
    if original then return { 'replayed', original } end
  end
  redis.call('HSET', KEYS[4], 't', id, 'f', ARGV[9], 'x', ARGV[10])
  redis.call('PEXPIRE', KEYS[4], ARGV[11])
end
local seq = redis.call('INCR', KEYS[3])
local member = agePrefix .. '|' .. string.format('%012d', seq) .. '|' .. id
redis.call('HSET', KEYS[1], 'r', blob, 's', state, 'm', member, 'p', pool, 'mid', '')
if state == 'queued' then redis.call('ZADD', KEYS[2], 0, member) end
return { 'created' }
`;

/**
 * All or nothing. KEYS: n tickets, n queues, done, matched.
 * ARGV: n, then per step: id, allowed states (comma separated), next state, blob, updatedAt, claim.
 */
export const TRANSITION = `${FINAL}
local n = tonumber(ARGV[1])
for i = 1, n do
  local s = redis.call('HGET', KEYS[i], 's')
  if not s then return 0 end
  local allowed = ',' .. ARGV[2 + (i - 1) * 6 + 1] .. ','
  if not string.find(allowed, ',' .. s .. ',', 1, true) then return 0 end
end
local done, matched = KEYS[2 * n + 1], KEYS[2 * n + 2]
for i = 1, n do
  local b = 2 + (i - 1) * 6
  local id, state, blob, updated, claim = ARGV[b], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5]
  local member = redis.call('HGET', KEYS[i], 'm')
  redis.call('HSET', KEYS[i], 'r', blob, 's', state, 'mid', claim)
  if state == 'queued' then redis.call('ZADD', KEYS[n + i], 0, member)
  else redis.call('ZREM', KEYS[n + i], member) end
  if state == 'matched' then redis.call('ZADD', matched, updated, id)
  else redis.call('ZREM', matched, id) end
  if final[state] then redis.call('ZADD', done, updated, id)
  else redis.call('ZREM', done, id) end
end
return 1
`;

/** KEYS: queue. ARGV: prefix. The queued records, oldest first, in one round trip. */
export const QUEUED = `
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local id = string.match(member, '([^|]*)$')
  local blob = redis.call('HGET', ARGV[1] .. 't:' .. id, 'r')
  if blob then out[#out + 1] = blob end
end
return out
`;

/** KEYS: done. ARGV: prefix, before (exclusive). */
export const PURGE_FINISHED = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[1] .. 't:' .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
`;

/** KEYS: node, pods, nodes. ARGV: id, blob, then per pod: pod id, free, backfill, ok. */
export const UPSERT_NODE = `
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[2])
for i = 3, #ARGV, 4 do
  local pod = ARGV[i]
  redis.call('HSET', KEYS[2], 'f|' .. pod, ARGV[i + 1], 'b|' .. pod, ARGV[i + 2], 'ok|' .. pod, ARGV[i + 3])
end
return 1
`;

/** KEYS: nodes. ARGV: prefix, then node ids (none: every node). Each: { blob, pods hash }. */
export const GET_NODES = `
local ids = {}
if #ARGV > 1 then for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
else ids = redis.call('SMEMBERS', KEYS[1]) end
local out = {}
for _, id in ipairs(ids) do
  local blob = redis.call('GET', ARGV[1] .. 'n:' .. id)
  if blob then out[#out + 1] = { blob, redis.call('HGETALL', ARGV[1] .. 'pods:' .. id) } end
end
return out
`;

/**
 * The first candidate pod with room gets the reservation. Room is the pod's
 * reported free (or backfill) slots minus players held by pending reservations.
 * KEYS: resx. ARGV: prefix, id, players, kind, expiresAt, then node, pod pairs.
 * Returns the 1-based index of the chosen candidate, 0 for none.
 */
export const RESERVE = `
local prefix, id, players, kind, expires = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local slot = kind == 'match' and 'f|' or 'b|'
for i = 6, #ARGV, 2 do
  local node, pod = ARGV[i], ARGV[i + 1]
  local pods = prefix .. 'pods:' .. node
  if redis.call('HGET', pods, 'ok|' .. pod) == '1' then
    local room = tonumber(redis.call('HGET', pods, slot .. pod) or '0')
    local heldKey = prefix .. 'held:' .. node
    local held = tonumber(redis.call('HGET', heldKey, kind .. '|' .. pod) or '0')
    if room - held >= players then
      redis.call('HINCRBY', heldKey, kind .. '|' .. pod, players)
      redis.call('HSET', prefix .. 'res:' .. id, 'node', node, 'pod', pod, 'kind', kind, 'n', players, 'x', expires)
      redis.call('ZADD', KEYS[1], expires, id)
      return (i - 4) / 2
    end
  end
end
return 0
`;

/**
 * The end of an allocation (Store.commit): nothing changes unless the
 * reservation is still open; then each ticket still 'matched' under this
 * claim takes its assigned record, and the pod's slots shrink by those
 * tickets' players until the proxy's next heartbeat.
 * KEYS: done, matched, n tickets, n queues. ARGV: prefix, id, n, then per
 * ticket: id, state, blob, updatedAt, players. Returns { 'released' } or
 * { 'committed', ids moved... }.
 */
export const COMMIT = `${DROP_RESERVATION}${FINAL}
local prefix, claim, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', prefix .. 'res:' .. claim) == 0 then return { 'released' } end
local out, used = { 'committed' }, 0
for i = 1, n do
  local b = 4 + (i - 1) * 5
  local id, state, blob, updated = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local t = redis.call('HMGET', KEYS[2 + i], 's', 'mid', 'm')
  if t[1] == 'matched' and t[2] == claim then
    redis.call('HSET', KEYS[2 + i], 'r', blob, 's', state, 'mid', '')
    redis.call('ZREM', KEYS[2 + n + i], t[3])
    redis.call('ZREM', KEYS[2], id)
    if final[state] then redis.call('ZADD', KEYS[1], updated, id) end
    used = used + tonumber(ARGV[b + 4])
    out[#out + 1] = id
  end
end
local r = drop(prefix, claim)
local pods = prefix .. 'pods:' .. r[1]
local function shrink(field)
  local v = redis.call('HGET', pods, field)
  if v then redis.call('HSET', pods, field, math.max(0, tonumber(v) - used)) end
end
if used > 0 then
  shrink('f|' .. r[2])
  if r[3] == 'backfill' then shrink('b|' .. r[2]) end
end
return out
`;

/** ARGV: prefix, id. */
export const RELEASE = `${DROP_RESERVATION}
if drop(ARGV[1], ARGV[2]) then return 1 end
return 0
`;

/** KEYS: resx. ARGV: prefix, now. Each released: { id, node, pod, kind, players, expiresAt }. */
export const RELEASE_EXPIRED = `${DROP_RESERVATION}
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])) do
  local r = drop(ARGV[1], id)
  if r then out[#out + 1] = { id, r[1], r[2], r[3], r[4], r[5] } end
end
return out
`;

/** KEYS: resx. ARGV: prefix. Each pending: { node, pod, kind, players }. */
export const RESERVED = `
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local r = redis.call('HMGET', ARGV[1] .. 'res:' .. id, 'node', 'pod', 'kind', 'n')
  if r[1] then out[#out + 1] = r end
end
return out
`;

/**
 * Tickets left 'matched' by an allocation that never finished (its replica
 * stopped): matched before the cutoff and without a live reservation.
 * KEYS: matched, resx. ARGV: prefix, cutoff. Each: blob.
 */
export const STALE_CLAIMS = `
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])) do
  local t = redis.call('HMGET', ARGV[1] .. 't:' .. id, 's', 'mid', 'r')
  if t[1] == 'matched' and not redis.call('ZSCORE', KEYS[2], t[2]) then out[#out + 1] = t[3] end
end
return out
`;

/** A Lua script run by EVALSHA, falling back to EVAL once when Redis does not know it yet. */
export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(
    client: Redis,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    const tail = [keys.length, ...keys, ...args];
    try {
      return await client.callBuffer('EVALSHA', [this.sha, ...tail]);
    } catch (error) {
      // After a restart or SCRIPT FLUSH the cache is empty; EVAL also loads it for next time.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.callBuffer('EVAL', [this.source, ...tail]);
    }
  }
}
