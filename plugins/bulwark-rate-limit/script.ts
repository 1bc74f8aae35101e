// The Lua script that decides every limit of a request in ONE Redis round trip, with Redis's clock.
//
// Why one script: Kong's rate-limiting sends one INCRBY+EXPIRE pipeline per period and reads usage in a separate
// call before incrementing (kong/plugins/rate-limiting/policies/init.lua), so two nodes can both read 99/100 and
// both admit (Kong #5311). Inside a script nothing else runs between the read and the write, and the script sees
// every limit of the request at once, so it can refuse all-or-nothing (algorithms.ts evaluateAll).
// Why Redis TIME: every Kong node then measures windows with the same clock; a node whose clock is off by
// seconds still agrees with the others. (Redis >= 5 replicates script effects, so TIME is allowed in scripts.)
//
// The arithmetic is algorithms.ts's, statement for statement; keep them in step.
//
// Keys: one hash per limit, all sharing a hash tag `{...}` (keys.ts) so a Redis Cluster keeps them in one slot.
// ARGV: [now override in ms ("0": Redis TIME; only tests pass anything else), number of limits,
//        then 7 per limit: algorithm code, limit, window ms, burst, cost, period start ms, period end ms (0 = none)]
// Reply: [now ms (floored), admitted 1|0, then 4 per limit: admitted 1|0, remaining, reset ms, retry ms]
import { createHash } from 'node:crypto';
import { ALGORITHM_CODES, type LimitCheck, type LimitOutcome } from './algorithms';

/** Lua: `now` in ms from ARGV[i], or from Redis TIME when that is "0" (only tests pass an instant). */
const NOW_FROM_ARG = (i: number) => `local now = tonumber(ARGV[${i}])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end`;

export const DECIDE_SCRIPT = `
${NOW_FROM_ARG(1)}
local n = tonumber(ARGV[2])
local EPS = 1e-6
local all = 1
local out = {}
local writes = {}
for i = 1, n do
  local b = 2 + (i - 1) * 7
  local algo = tonumber(ARGV[b + 1])
  local limit = tonumber(ARGV[b + 2])
  local w = tonumber(ARGV[b + 3])
  local burst = tonumber(ARGV[b + 4])
  local cost = tonumber(ARGV[b + 5])
  local ps = tonumber(ARGV[b + 6])
  local pe = tonumber(ARGV[b + 7])
  local key = KEYS[i]
  local ok, rem_now, rem_after, reset, retry, ttl, fields
  if algo == 1 then
    local f = redis.call('HMGET', key, 's', 'c', 'p')
    local s = tonumber(f[1])
    local curr, prev = 0, 0
    local cur = math.floor(now / w) * w
    if s == cur then
      curr = tonumber(f[2]) or 0
      prev = tonumber(f[3]) or 0
    elseif s == cur - w then
      prev = tonumber(f[2]) or 0
    end
    local elapsed = now - cur
    local est = (prev * (w - elapsed)) / w + curr
    ok = est + cost <= limit
    rem_now = math.max(0, math.floor(limit - est + EPS))
    rem_after = math.max(0, math.floor(limit - est - cost + EPS))
    retry = 0
    if not ok then
      if cost > limit then
        retry = w - elapsed + w
      elseif curr + cost <= limit then
        retry = (w * (1 - (limit - cost - curr) / prev)) - elapsed
      else
        local into = 0
        if curr > 0 then into = w * (1 - (limit - cost) / curr) end
        retry = w - elapsed + math.max(0, into)
      end
      retry = math.max(1, math.ceil(retry))
    end
    reset = math.ceil(w - elapsed)
    ttl = math.ceil(2 * w - elapsed)
    fields = {'s', tostring(cur), 'c', tostring(curr + cost), 'p', tostring(prev)}
  elseif algo == 2 then
    local t = w / limit
    local tau = t * burst
    local tat = tonumber(redis.call('HGET', key, 't'))
    if tat == nil or tat < now then tat = now end
    local new_tat = tat + t * cost
    local allow_at = new_tat - tau
    ok = now >= allow_at
    rem_now = math.max(0, math.floor((tau - (tat - now)) / t + EPS))
    rem_after = math.max(0, math.floor((tau - (new_tat - now)) / t + EPS))
    if ok then
      reset = math.ceil(new_tat - now)
      retry = 0
    else
      reset = math.ceil(tat - now)
      retry = math.max(1, math.ceil(allow_at - now))
    end
    ttl = math.max(1, math.ceil(new_tat - now))
    fields = {'t', string.format('%.3f', new_tat)}
  else
    local start, stop
    if ps > 0 then
      start = ps
      stop = pe
    else
      start = math.floor(now / w) * w
      stop = start + w
    end
    local f = redis.call('HMGET', key, 's', 'c')
    local count = 0
    if tonumber(f[1]) == start then count = tonumber(f[2]) or 0 end
    ok = count + cost <= limit
    rem_now = math.max(0, limit - count)
    rem_after = math.max(0, limit - count - cost)
    local until_end = math.max(0, math.ceil(stop - now))
    reset = until_end
    retry = 0
    if not ok then retry = math.max(1, until_end) end
    ttl = math.max(1000, until_end)
    fields = {'s', tostring(start), 'c', tostring(count + cost)}
  end
  if not ok then all = 0 end
  writes[i] = {fields, ttl}
  out[i] = {ok, rem_now, rem_after, reset, retry}
end
local reply = {math.floor(now), all}
for i = 1, n do
  local o = out[i]
  local rem = o[3]
  if all == 0 or not o[1] then rem = o[2] end
  local admitted = 0
  if o[1] then admitted = 1 end
  reply[#reply + 1] = admitted
  reply[#reply + 1] = rem
  reply[#reply + 1] = o[4]
  reply[#reply + 1] = o[5]
  if all == 1 then
    redis.call('HSET', KEYS[i], unpack(writes[i][1]))
    redis.call('PEXPIRE', KEYS[i], writes[i][2])
  end
end
return reply
`;

// The refund of a decision that Redis admitted after the caller had stopped waiting (its reply came later than
// timeout_ms, and the request was answered by the outage policy): undo what DECIDE_SCRIPT wrote for it, where that
// can be done without ever admitting more than the limit.
// ARGV: [decision time ms (from the decision's reply), now override ms ("0": Redis TIME; tests only), number of
//        limits, then 5 per limit: algorithm code, limit, window ms, cost, period start ms (0 = none)]
// - window counters: decremented if still the decision's window, or ('p' of a sliding window) if that window is now
//   the previous one; never below zero.
// - GCRA: the decision moved the bucket's TAT to at least at + T*cost. Only a later decision arriving after the TAT
//   can reset the bucket (and with it absorb this decision), and none can have come before at + T*cost: until then
//   the cost is given back (TAT - T*cost, not below the decision time); after that it is kept.
export const REFUND_SCRIPT = `
local at = tonumber(ARGV[1])
${NOW_FROM_ARG(2)}
local n = tonumber(ARGV[3])
for i = 1, n do
  local b = 3 + (i - 1) * 5
  local algo = tonumber(ARGV[b + 1])
  local limit = tonumber(ARGV[b + 2])
  local w = tonumber(ARGV[b + 3])
  local cost = tonumber(ARGV[b + 4])
  local ps = tonumber(ARGV[b + 5])
  local key = KEYS[i]
  if algo == 2 then
    local back = (w / limit) * cost
    local tat = tonumber(redis.call('HGET', key, 't'))
    if tat ~= nil and now <= at + back and tat > at then
      redis.call('HSET', key, 't', string.format('%.3f', math.max(at, tat - back)))
    end
  else
    local start = math.floor(at / w) * w
    if algo == 3 and ps > 0 then start = ps end
    local f = redis.call('HMGET', key, 's', 'c', 'p')
    local s = tonumber(f[1])
    if s == start then
      redis.call('HSET', key, 'c', tostring(math.max(0, (tonumber(f[2]) or 0) - cost)))
    elseif algo == 1 and s == start + w then
      redis.call('HSET', key, 'p', tostring(math.max(0, (tonumber(f[3]) or 0) - cost)))
    end
  end
end
return n
`;

/** The ARGV of a refund for `checks` decided (admitted) at `decidedAtMs`, Redis time. `nowOverrideMs`: tests only. */
export function refundArgs(checks: readonly LimitCheck[], decidedAtMs: number, nowOverrideMs = 0): string[] {
  const args = [String(decidedAtMs), String(nowOverrideMs), String(checks.length)];
  for (const c of checks) {
    args.push(
      String(ALGORITHM_CODES[c.algorithm]),
      String(c.limit),
      String(c.windowMs),
      String(c.cost),
      String(c.period ? c.period.startMs : 0),
    );
  }
  return args;
}

/** SHA1 of the script, as Redis names it for EVALSHA. */
export const DECIDE_SCRIPT_SHA = createHash('sha1').update(DECIDE_SCRIPT).digest('hex');

/** The ARGV of one call. `nowOverrideMs` is for tests only (0 = Redis TIME). */
export function scriptArgs(checks: readonly LimitCheck[], nowOverrideMs = 0): string[] {
  const args = [String(nowOverrideMs), String(checks.length)];
  for (const c of checks) {
    args.push(
      String(ALGORITHM_CODES[c.algorithm]),
      String(c.limit),
      String(c.windowMs),
      String(c.burst),
      String(c.cost),
      String(c.period ? c.period.startMs : 0),
      String(c.period ? c.period.endMs : 0),
    );
  }
  return args;
}

export interface ScriptReply {
  /** Redis's clock when it decided (ms). */
  nowMs: number;
  allowed: boolean;
  outcomes: LimitOutcome[];
}

/** Reads the script's reply; throws on anything that is not the expected shape (the caller treats it as a Redis failure). */
export function parseScriptReply(reply: unknown, limits: number): ScriptReply {
  if (!Array.isArray(reply) || reply.length !== 2 + 4 * limits) {
    throw new Error(
      `unexpected rate-limit script reply (${Array.isArray(reply) ? `${reply.length} elements` : typeof reply})`,
    );
  }
  const num = (i: number): number => {
    const v = Number(reply[i]);
    if (!Number.isFinite(v)) throw new Error(`unexpected rate-limit script reply element ${i}`);
    return v;
  };
  const outcomes: LimitOutcome[] = [];
  for (let i = 0; i < limits; i++) {
    const b = 2 + 4 * i;
    outcomes.push({ allowed: num(b) === 1, remaining: num(b + 1), resetMs: num(b + 2), retryMs: num(b + 3) });
  }
  return { nowMs: num(0), allowed: num(1) === 1, outcomes };
}
