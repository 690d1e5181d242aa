import { createHash } from 'node:crypto';

import type { Redis } from 'ioredis';

import type { ReserveResult, ThrottleStore } from './credential-throttle-store.ts';
import { LEASE_MS } from './throttle-rules.ts';

// The credential throttle's counts in Redis, shared by every instance. Each operation is one
// Lua script, so reserving is atomic across instances as it is within one: the rules of
// throttle-rules.ts (ladder, pace, attempts in flight) and the `applies` table of
// credential-throttle-store.ts, written again in Lua; the contract suite
// (test/contracts/throttle-store.ts) holds both to the same answers. Counts are
// hashes (ladder {f, l, p, e}, pace {t, p, e}), trust flags plain strings, and every key
// expires on its own. (One Redis, not a cluster: a script's keys share a node.)

const HELPERS = `
local function fmt(x) return string.format('%.0f', x) end
local function num(x) return tonumber(x) or 0 end
local function keep(key, fields, ttl)
  if ttl <= 0 then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, unpack(fields))
    redis.call('PEXPIRE', key, fmt(ttl))
  end
end
`;

// KEYS: trusted address, trusted device, then the counters.
// ARGV: now, has-device, concurrent-when-trusted, lease, then six per counter: kind
// (1 ladder, 2 pace), applies (0 always, 1 trusted device, 2 untrusted device,
// 3 untrusted), and the rule's numbers (ladder: free, block after, longest delay, window;
// pace: interval, burst).
// Returns: address trusted, device trusted, then two per counter: status (0 skipped,
// 1 reserved, 2 wait, 3 blocked, 4 busy) and the milliseconds to wait.
const RESERVE = `${HELPERS}
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[4])
local address = redis.call('EXISTS', KEYS[1]) == 1
local device = ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1
local exempt = ARGV[3] == '1' and address
local out = { address and 1 or 0, device and 1 or 0 }
local writes = {}
local go = true
for i = 1, #KEYS - 2 do
  local o = 4 + (i - 1) * 6
  local kind, applies = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2])
  local a, b, c, d = tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4]), tonumber(ARGV[o + 5]), tonumber(ARGV[o + 6])
  local on = applies == 0 or (applies == 1 and device) or (applies == 2 and not device) or (applies == 3 and not device and not address)
  local key = KEYS[2 + i]
  local status, wait = 0, 0
  if on and kind == 1 then
    local s = redis.call('HMGET', key, 'f', 'l', 'p', 'e')
    local f, l, p, e = num(s[1]), num(s[2]), num(s[3]), num(s[4])
    if l + d <= now then f, l = 0, 0 end
    if e <= now then p = 0 end
    if f >= b then
      status, wait = 3, l + d - now
    else
      if f >= a then wait = l + math.min(1000 * 2 ^ math.min(f - a, 30), c) - now end
      if wait > 0 then
        status = 2
      elseif not exempt and p > 0 and f + p >= a then
        status, wait = 4, 0
      else
        status, wait = 1, 0
        if not exempt then
          local ttl = lease
          if f > 0 then ttl = math.max(ttl, l + d - now) end
          writes[#writes + 1] = { key, { 'f', fmt(f), 'l', fmt(l), 'p', fmt(p + 1), 'e', fmt(now + lease) }, ttl }
        end
      end
    end
  elseif on then
    local s = redis.call('HMGET', key, 't', 'p', 'e')
    local t, p, e = num(s[1]), num(s[2]), num(s[3])
    if e <= now then p = 0 end
    local over = math.max(t, now) + a - now - math.max(1, b) * a
    if over > 0 then
      status, wait = 2, over
    elseif p > 0 and over + p * a > 0 then
      status = 4
    else
      status = 1
      writes[#writes + 1] = { key, { 't', fmt(t), 'p', fmt(p + 1), 'e', fmt(now + lease) }, math.max(lease, t - now) }
    end
  end
  if status >= 2 then go = false end
  out[#out + 1] = status
  out[#out + 1] = wait
end
if go then
  for _, w in ipairs(writes) do keep(w[1], w[2], w[3]) end
end
return out`;

// KEYS: the counters, then the trust flags to set.
// ARGV: now, number of counters, trust milliseconds, then five per counter: kind, pending
// (1: counted in flight), outcome (1 failed, 2 succeeded, 3 released), clear (1: a success
// starts the ladder over), and the ladder's window or the pace's interval.
// Returns each ladder's failures afterwards (0 for a pace).
const SETTLE = `${HELPERS}
local now, n, trustMs = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out = {}
for i = 1, n do
  local o = 3 + (i - 1) * 5
  local kind, pending, outcome, clear, r = tonumber(ARGV[o + 1]), ARGV[o + 2] == '1', tonumber(ARGV[o + 3]), ARGV[o + 4] == '1', tonumber(ARGV[o + 5])
  local key = KEYS[i]
  if kind == 1 then
    local s = redis.call('HMGET', key, 'f', 'l', 'p', 'e')
    local f, l, p, e = num(s[1]), num(s[2]), num(s[3]), num(s[4])
    if l + r <= now then f, l = 0, 0 end
    if e <= now then p = 0 end
    if pending then p = math.max(0, p - 1) end
    if p == 0 then e = 0 end
    if outcome == 1 then
      f, l = f + 1, now
    elseif outcome == 2 and clear then
      f, l = 0, 0
    end
    local ttl = e - now
    if f > 0 then ttl = math.max(ttl, l + r - now) end
    keep(key, { 'f', fmt(f), 'l', fmt(l), 'p', fmt(p), 'e', fmt(e) }, ttl)
    out[#out + 1] = f
  else
    local s = redis.call('HMGET', key, 't', 'p', 'e')
    local t, p, e = num(s[1]), num(s[2]), num(s[3])
    if e <= now then p = 0 end
    if pending then p = math.max(0, p - 1) end
    if p == 0 then e = 0 end
    if outcome == 1 then t = math.max(t, now) + r end
    keep(key, { 't', fmt(t), 'p', fmt(p), 'e', fmt(e) }, math.max(t - now, e - now))
    out[#out + 1] = 0
  end
end
for i = n + 1, #KEYS do redis.call('SET', KEYS[i], '1', 'PX', trustMs) end
return out`;

const APPLIES = { always: 0, 'trusted-device': 1, 'untrusted-device': 2, untrusted: 3 } as const;
const SETTLEMENTS = { failed: 1, succeeded: 2, released: 3 } as const;

/** A script run by its digest, loaded once per Redis (again after a restart: NOSCRIPT). */
function script(client: Redis, source: string) {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (keys: string[], args: (string | number)[]): Promise<unknown> => {
    try {
      return await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(source, keys.length, ...keys, ...args);
    }
  };
}

/** A key prefix as a literal in a SCAN pattern. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

export function createRedisThrottleStore(options: { client: Redis; keyPrefix: string }): ThrottleStore {
  const prefix = `${options.keyPrefix}th:`;
  const reserve = script(options.client, RESERVE);
  const settle = script(options.client, SETTLE);

  return {
    async reserve({ now, trustedAddressKey, trustedDeviceKey, concurrentWhenTrusted, counters }) {
      const keys = [trustedAddressKey, trustedDeviceKey ?? trustedAddressKey, ...counters.map((counter) => counter.key)].map((key) => prefix + key);
      const args: number[] = [now, trustedDeviceKey ? 1 : 0, concurrentWhenTrusted ? 1 : 0, LEASE_MS];
      for (const { rule, applies } of counters) {
        args.push(
          ...(rule.kind === 'ladder'
            ? [1, APPLIES[applies], rule.free, rule.blockAfter, rule.maxDelayMs, rule.windowMs]
            : [2, APPLIES[applies], rule.intervalMs, rule.burst, 0, 0]),
        );
      }
      const out = (await reserve(keys, args)) as number[];
      const address = out[0] === 1;
      const exempt = concurrentWhenTrusted && address;
      const outcomes = counters.map((_, index): ReserveResult['outcomes'][number] => {
        const [status = 0, wait = 0] = out.slice(2 + index * 2, 4 + index * 2);
        if (status === 0) return { status: 'skipped' };
        if (status === 1) return { status: 'reserved', pending: !exempt };
        if (status === 4) return { status: 'busy' };
        return { status: 'refused', blocked: status === 3, retryMs: wait };
      });
      return { trusted: { address, device: out[1] === 1 }, outcomes };
    },
    async release(selection, once) {
      // Every instance shares these counts: the first to apply a release marks it, the others skip it.
      if (once && (await options.client.set(prefix + once.key, '1', 'PX', once.keepMs, 'NX')) !== 'OK') return 0;
      // SCAN, not KEYS: it never blocks Redis, however many keys it holds.
      let removed = 0;
      for (const glob of selection.globs) {
        let cursor = '0';
        do {
          const [next, keys] = await options.client.scan(cursor, 'MATCH', escapeGlob(prefix) + glob, 'COUNT', 1000);
          cursor = next;
          const doomed = keys.filter((key) => selection.matches(key.slice(prefix.length)));
          if (doomed.length > 0) removed += await options.client.del(...doomed);
        } while (cursor !== '0');
      }
      return removed;
    },
    async settle({ now, counters, trust, trustMs }) {
      if (counters.length === 0 && trust.length === 0) return [];
      const keys = [...counters.map((counter) => counter.key), ...trust].map((key) => prefix + key);
      const args: number[] = [now, counters.length, trustMs];
      for (const { rule, pending, outcome, clear } of counters) {
        args.push(rule.kind === 'ladder' ? 1 : 2, pending ? 1 : 0, SETTLEMENTS[outcome], clear ? 1 : 0, rule.kind === 'ladder' ? rule.windowMs : rule.intervalMs);
      }
      return (await settle(keys, args)) as number[];
    },
  };
}
