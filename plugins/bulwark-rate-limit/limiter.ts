// The decision for one request: Redis (one EVALSHA) when configured and healthy, else the outage policy.
// No PDK calls here; the handler passes the identity and cost in and acts on the result.
//
// Process-wide state, shared by every instance (instances come and go with each config change,
// ../../docs/kong-protocol.md §1.7, and must not each rediscover that Redis is down): the Redis clients
// (lib/redis.ts registry), one circuit breaker per (Redis settings, breaker settings), the Redis-clock offset per
// Redis, and the in-memory store.
import {
  describeRedisTarget,
  sharedRedisRegistry,
  whenReady,
  type RedisClient,
  type RedisRegistry,
  type RegistryEntry,
} from '../lib/redis';
import { describeError } from '../lib/plugin';
import type { LimitCheck, LimitOutcome } from './algorithms';
import { CircuitBreaker, type BreakerTransition } from './breaker';
import { periodBounds, periodSeconds } from './calendar';
import type { LimitPolicy, RateLimitConfig } from './config';
import { counterKey } from './identity';
import { MemoryStore } from './memory-store';
import {
  DECIDE_SCRIPT,
  DECIDE_SCRIPT_SHA,
  parseScriptReply,
  REFUND_SCRIPT,
  refundArgs,
  scriptArgs,
  type ScriptReply,
} from './script';

export type DecisionSource = 'redis' | 'memory' | 'local-fallback' | 'fail-open' | 'fail-closed';

export interface LogEvent {
  level: 'err' | 'warn' | 'notice' | 'info';
  event: string;
  fields: Record<string, unknown>;
}

export interface LimiterDecision {
  source: DecisionSource;
  /** false for fail-closed and for a refusal by any limit. */
  allowed: boolean;
  /** Per configured limit; undefined when no limit was evaluated (fail-open, fail-closed). */
  outcomes?: LimitOutcome[];
  /** The limits as applied (divided by expected_nodes in local-fallback). */
  appliedLimits: number[];
  /** Window per limit in seconds, for RateLimit-Policy `w` (a calendar month: this month's length). */
  windowSeconds: number[];
  /** Transitions and failures to log once. */
  events: LogEvent[];
}

export interface LimiterDeps {
  registry: RedisRegistry;
  memory: MemoryStore;
  breakers: Map<string, CircuitBreaker>;
  /** Redis clock minus local clock (ms), per Redis; used to place calendar periods with Redis's clock. */
  clockOffsets: Map<string, number>;
  now: () => number;
}

export const defaultLimiterDeps: LimiterDeps = {
  registry: sharedRedisRegistry,
  memory: new MemoryStore(),
  breakers: new Map(),
  clockOffsets: new Map(),
  now: Date.now,
};

function loadScript(client: RedisClient): void {
  // SCRIPT LOAD once per (re)connection; EVALSHA then never misses. On a Cluster, on every master.
  const targets = 'nodes' in client && typeof client.nodes === 'function' ? client.nodes('master') : [client];
  for (const node of targets) node.script('LOAD', DECIDE_SCRIPT).catch(() => undefined);
}

/** EVALSHA; on NOSCRIPT (a restarted or flushed Redis, a new cluster node) EVAL, which also caches the script. */
export async function runDecideScript(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await client.evalsha(DECIDE_SCRIPT_SHA, keys.length, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT'))
      return client.eval(DECIDE_SCRIPT, keys.length, ...keys, ...args);
    throw err;
  }
}

function checksFor(
  conf: RateLimitConfig,
  cost: number,
  nowMs: number,
  divisor: number,
): { checks: LimitCheck[]; windows: number[] } {
  const checks: LimitCheck[] = [];
  const windows: number[] = [];
  for (const l of conf.limits) {
    const period = l.calendar !== undefined ? periodBounds(nowMs, l.calendar, conf.timeZone) : undefined;
    const limit = Math.max(1, Math.floor(l.limit / divisor));
    checks.push({
      algorithm: l.algorithm,
      limit,
      windowMs: l.windowMs,
      burst: Math.max(1, Math.floor(l.burst / divisor)),
      cost,
      ...(period ? { period } : {}),
    });
    windows.push(period ? periodSeconds(period) : l.windowMs / 1000);
  }
  return { checks, windows };
}

function keysFor(conf: RateLimitConfig, digest: string, prefix: string): string[] {
  return conf.limits.map((l: LimitPolicy) => counterKey(prefix, conf.namespace, digest, l.keySuffix));
}

function breakerFor(conf: RateLimitConfig, deps: LimiterDeps): CircuitBreaker {
  const key = `${conf.redisKey}|${conf.breaker.failureThreshold}|${conf.breaker.openMs}`;
  let b = deps.breakers.get(key);
  if (!b) {
    b = new CircuitBreaker(conf.breaker.failureThreshold, conf.breaker.openMs, deps.now);
    deps.breakers.set(key, b);
  }
  return b;
}

function transitionEvent(
  t: BreakerTransition,
  conf: RateLimitConfig,
  reason?: string,
  connectionError?: string,
): LogEvent | undefined {
  const redis = conf.redis === undefined ? undefined : describeRedisTarget(conf.redis);
  if (t.to === 'open' && t.from === 'closed') {
    return {
      level: 'err',
      event: 'redis_unavailable',
      fields: {
        policy: conf.onRedisError,
        redis,
        breaker: 'open',
        retry_in_ms: conf.breaker.openMs,
        reason,
        ...(connectionError !== undefined ? { connection_error: connectionError } : {}),
      },
    };
  }
  if (t.to === 'closed')
    return {
      level: 'notice',
      event: 'redis_recovered',
      fields: { breaker: 'closed', policy: conf.onRedisError, redis },
    };
  return undefined; // open → half-open → open: still the same outage, already logged
}

/** Logged (at most every 10 s) while new clients are refused because the in-memory store is full of limited ones. */
function storeFullEvent(memory: MemoryStore): LogEvent {
  return {
    level: 'warn',
    event: 'memory_store_full',
    fields: { max_keys: memory.maxKeys, answer: 'new clients refused (429) until counters expire' },
  };
}

/** Decide one request: `digest` identifies the client (identity.ts), `cost` is the units it consumes. */
export async function decide(
  conf: RateLimitConfig,
  digest: string,
  cost: number,
  deps: LimiterDeps = defaultLimiterDeps,
): Promise<LimiterDecision> {
  const events: LogEvent[] = [];
  if (conf.redis === undefined || conf.redisKey === undefined) {
    const { checks, windows } = checksFor(conf, cost, deps.now(), 1);
    const reply = deps.memory.decide(keysFor(conf, digest, `${conf.keyPrefix}:mem`), checks);
    if (reply.reportStoreFull) events.push(storeFullEvent(deps.memory));
    return {
      source: 'memory',
      allowed: reply.allowed,
      outcomes: reply.outcomes,
      appliedLimits: checks.map((c) => c.limit),
      windowSeconds: windows,
      events,
    };
  }

  const redisKey = conf.redisKey;
  const breaker = breakerFor(conf, deps);
  const gate = breaker.admit();
  if (gate.call) {
    const offset = deps.clockOffsets.get(redisKey) ?? 0;
    const { checks, windows } = checksFor(conf, cost, deps.now() + offset, 1);
    const keys = keysFor(conf, digest, conf.keyPrefix);
    const sentAt = deps.now();
    let entry: RegistryEntry | undefined;
    let sent: Promise<unknown> | undefined;
    try {
      entry = deps.registry.acquire(conf.redis, redisKey);
      entry.onReady.add(loadScript);
      const client = entry.client;
      const raw = await whenReady(
        client,
        conf.redis.commandTimeoutMs,
        'rate-limit decision',
        () => (sent = runDecideScript(client, keys, scriptArgs(checks))),
      );
      const reply: ScriptReply = parseScriptReply(raw, checks.length);
      deps.clockOffsets.set(redisKey, reply.nowMs - (sentAt + deps.now()) / 2);
      const t = breaker.success();
      const ev = t && transitionEvent(t, conf);
      if (ev) events.push(ev);
      return {
        source: 'redis',
        allowed: reply.allowed,
        outcomes: reply.outcomes,
        appliedLimits: checks.map((c) => c.limit),
        windowSeconds: windows,
        events,
      };
    } catch (err) {
      // Sent, but no usable answer in time: if Redis admits it later, that unit belongs to a request the outage
      // policy answered. fail-open admitted it, so the count stands; otherwise give it back.
      if (sent !== undefined && entry !== undefined && conf.onRedisError !== 'fail-open')
        refundIfAdmittedLate(entry.client, sent, keys, checks);
      const t = breaker.failure();
      // The command's own error is often just "max retries" or a timeout; the connection error says why.
      const connectionError = entry?.lastError !== undefined ? describeError(entry.lastError) : undefined;
      const ev = t && transitionEvent(t, conf, describeError(err), connectionError);
      if (ev) events.push(ev);
    }
  }
  return applyOutagePolicy(conf, digest, cost, deps, events);
}

/** Undo a decision whose reply arrives after the caller gave up, if Redis admitted (and so counted) it. */
function refundIfAdmittedLate(client: RedisClient, sent: Promise<unknown>, keys: string[], checks: LimitCheck[]): void {
  sent
    .then((raw) => {
      const reply = parseScriptReply(raw, checks.length);
      if (reply.allowed) return client.eval(REFUND_SCRIPT, keys.length, ...keys, ...refundArgs(checks, reply.nowMs));
      return undefined;
    })
    .catch(() => undefined); // no reply at all (connection lost): whether it ran is unknowable
}

function applyOutagePolicy(
  conf: RateLimitConfig,
  digest: string,
  cost: number,
  deps: LimiterDeps,
  events: LogEvent[],
): LimiterDecision {
  const { checks, windows } = checksFor(
    conf,
    cost,
    deps.now() + (deps.clockOffsets.get(conf.redisKey ?? '') ?? 0),
    conf.expectedNodes,
  );
  const applied = checks.map((c) => c.limit);
  switch (conf.onRedisError) {
    case 'fail-open':
      return { source: 'fail-open', allowed: true, appliedLimits: applied, windowSeconds: windows, events };
    case 'fail-closed':
      return { source: 'fail-closed', allowed: false, appliedLimits: applied, windowSeconds: windows, events };
    case 'local-fallback': {
      const reply = deps.memory.decide(keysFor(conf, digest, `${conf.keyPrefix}:fallback`), checks);
      if (reply.reportStoreFull) events.push(storeFullEvent(deps.memory));
      return {
        source: 'local-fallback',
        allowed: reply.allowed,
        outcomes: reply.outcomes,
        appliedLimits: applied,
        windowSeconds: windows,
        events,
      };
    }
  }
}
