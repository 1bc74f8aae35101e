// Shared Redis connections for Bulwark plugins (ioredis): one client per distinct connection settings, reused
// by every request and every plugin instance of the process that uses equal settings.
//
// Why keyed by settings and not owned by instances: Kong replaces a plugin instance on ANY configuration change
// (StartInstance new, CloseInstance old, ../../docs/kong-protocol.md §1.7), and kong-pdk never tells the plugin object
// that it was closed. An instance that opened its own connection would leak it on every config push. Here an instance
// holds no reference at all: it asks the registry for its settings on each use (a Map lookup). Equal settings
// → the same client, however often instances are recreated. A client whose settings no instance uses any more
// (say the password changed) is closed by the idle sweep after `idleMs` without use.
//
// Every client: bounded connect and command timeouts, automatic reconnection (capped backoff), a connection name
// for CLIENT LIST, and an `error` listener (an unhandled 'error' event would crash the process).
import { createHash } from 'node:crypto';
import { Cluster, Redis, ReplyError, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisMode = 'standalone' | 'sentinel' | 'cluster';

export interface RedisAddress {
  host: string;
  port: number;
}

export interface RedisTlsSettings {
  enabled: boolean;
  /** Verify the server certificate and host name. */
  verify: boolean;
  serverName?: string;
  /** PEM CA certificate(s); undefined = Node's default trust store. */
  ca?: string;
}

export interface RedisSettings {
  mode: RedisMode;
  /** standalone */
  host: string;
  port: number;
  /** standalone and sentinel */
  database: number;
  username?: string;
  password?: string;
  /** sentinel */
  sentinelMaster?: string;
  sentinels: RedisAddress[];
  sentinelUsername?: string;
  sentinelPassword?: string;
  /** cluster seed nodes */
  clusterNodes: RedisAddress[];
  tls: RedisTlsSettings;
  connectTimeoutMs: number;
  /** Bound on one call, applied by `whenReady` / `withTimeout` (not by ioredis: see createRedisClient). */
  commandTimeoutMs: number;
}

export type RedisClient = Redis | Cluster;

/** Name shown by `CLIENT LIST` for connections made here. */
export const REDIS_CONNECTION_NAME = 'bulwark';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * A stable key for settings: equal settings give equal keys whatever the property order. Secrets enter only as
 * hashes, so the key can be logged and kept in memory without holding a password in clear.
 */
export function redisSettingsKey(s: RedisSettings): string {
  const secret = (v: string | undefined) => (v === undefined ? null : sha256(`bulwark-redis-key:${v}`).slice(0, 32));
  const addr = (list: RedisAddress[]) => list.map((a) => `${a.host}:${a.port}`).sort();
  return JSON.stringify([
    s.mode,
    s.mode === 'standalone' ? `${s.host}:${s.port}` : null,
    s.mode === 'cluster' ? null : s.database,
    s.username ?? null,
    secret(s.password),
    s.mode === 'sentinel'
      ? [s.sentinelMaster ?? null, addr(s.sentinels), s.sentinelUsername ?? null, secret(s.sentinelPassword)]
      : null,
    s.mode === 'cluster' ? addr(s.clusterNodes) : null,
    s.tls.enabled ? [s.tls.verify, s.tls.serverName ?? null, s.tls.ca === undefined ? null : sha256(s.tls.ca)] : false,
    s.connectTimeoutMs,
    s.commandTimeoutMs,
  ]);
}

/** Which Redis, for log lines: mode and addresses, never a secret. */
export function describeRedisTarget(s: RedisSettings): string {
  const addr = (list: RedisAddress[]) => list.map((a) => `${a.host}:${a.port}`).join(',');
  const target =
    s.mode === 'standalone'
      ? `standalone ${s.host}:${s.port}`
      : s.mode === 'sentinel'
        ? `sentinel ${s.sentinelMaster ?? ''} via ${addr(s.sentinels)}`
        : `cluster ${addr(s.clusterNodes)}`;
  return s.tls.enabled ? `${target} (tls)` : target;
}

/** Reconnect delay: quick at first, capped at 2 s so a restarted Redis is found again soon. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 6), 2000);
}

function tlsOptions(t: RedisTlsSettings): RedisOptions['tls'] {
  if (!t.enabled) return undefined;
  return {
    rejectUnauthorized: t.verify,
    ...(t.serverName !== undefined ? { servername: t.serverName } : {}),
    ...(t.ca !== undefined ? { ca: t.ca } : {}),
  };
}

/** Builds (but does not register) a client for the settings. */
export function createRedisClient(s: RedisSettings): RedisClient {
  const common: RedisOptions = {
    connectionName: REDIS_CONNECTION_NAME,
    connectTimeout: s.connectTimeoutMs,
    // No ioredis commandTimeout: callers bound each call themselves (whenReady). ioredis's timeout would reject the
    // command's promise and then drop its late reply, which the rate limiter needs in order to give back a unit
    // that Redis counted after the request had been answered by the outage policy.
    // One retry at most: a limiter decision that waited a reconnect is worth less than a prompt fallback.
    maxRetriesPerRequest: 1,
    // A command that was on the wire when the connection dropped is not sent again after the reconnect: its caller
    // has long given up (and answered by the outage policy), so a resent rate-limit decision would count a request
    // that was refused.
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelayMs,
    enableReadyCheck: true,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.tls.enabled ? { tls: tlsOptions(s.tls) } : {}),
  };
  if (s.mode === 'cluster') {
    const options: ClusterOptions = {
      redisOptions: common,
      clusterRetryStrategy: reconnectDelayMs,
      enableReadyCheck: true,
      slotsRefreshTimeout: Math.max(1000, s.connectTimeoutMs),
    };
    return new Cluster(
      s.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
      options,
    );
  }
  if (s.mode === 'sentinel') {
    return new Redis({
      ...common,
      db: s.database,
      name: s.sentinelMaster,
      role: 'master',
      sentinels: s.sentinels.map((n) => ({ host: n.host, port: n.port })),
      ...(s.sentinelUsername !== undefined ? { sentinelUsername: s.sentinelUsername } : {}),
      ...(s.sentinelPassword !== undefined ? { sentinelPassword: s.sentinelPassword } : {}),
      ...(s.tls.enabled ? { enableTLSForSentinelMode: true, sentinelTLS: tlsOptions(s.tls) } : {}),
      sentinelRetryStrategy: reconnectDelayMs,
      // Subscribe to +switch-master on the sentinels and reconnect at once. Without it, after a SENTINEL FAILOVER
      // (old master still up) the client keeps writing to the old master until the sentinels demote it (about
      // 10 s later, Redis sentinel.c waits 4 publish periods before +convert-to-slave), and every write of that
      // span is lost when it resyncs from the new master: counters undercount, clients get extra requests.
      failoverDetector: true,
    });
  }
  return new Redis({ ...common, host: s.host, port: s.port, db: s.database });
}

export interface RegistryEntry {
  key: string;
  client: RedisClient;
  /** describeRedisTarget of its settings (no secret): the metrics label. */
  target: string;
  lastUsedMs: number;
  /** Called once when the client becomes ready (each reconnection too), e.g. to SCRIPT LOAD. */
  readonly onReady: Set<(client: RedisClient) => void>;
  /**
   * The last connection error ('error' event) since the client was last ready. A command that fails while the
   * client cannot connect only says "max retries" or "timed out"; this says why (TLS verification, WRONGPASS, ...).
   */
  lastError?: Error;
}

export interface RedisRegistryOptions {
  /** Close a client unused this long (default 10 minutes). */
  idleMs?: number;
  /** How often to look for idle clients (default 60 s); 0 = no timer (call `sweep` yourself). */
  sweepEveryMs?: number;
  create?: (s: RedisSettings) => RedisClient;
  now?: () => number;
}

/** The connection registry. Plugins use `sharedRedisRegistry`; tests make their own. */
export class RedisRegistry {
  private readonly entries = new Map<string, RegistryEntry>();
  private readonly idleMs: number;
  private readonly create: (s: RedisSettings) => RedisClient;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private readonly sweepEveryMs: number;
  private readonly errorListeners = new Set<(key: string, err: Error) => void>();

  constructor(opts: RedisRegistryOptions = {}) {
    this.idleMs = opts.idleMs ?? 10 * 60_000;
    this.sweepEveryMs = opts.sweepEveryMs ?? 60_000;
    this.create = opts.create ?? createRedisClient;
    this.now = opts.now ?? Date.now;
  }

  /** The client for these settings, created on first use. Marks it used now. */
  acquire(settings: RedisSettings, key: string = redisSettingsKey(settings)): RegistryEntry {
    let entry = this.entries.get(key);
    if (!entry) {
      const client = this.create(settings);
      const created: RegistryEntry = {
        key,
        client,
        target: describeRedisTarget(settings),
        lastUsedMs: this.now(),
        onReady: new Set(),
      };
      // Without a listener an 'error' event would throw and end the process; failures surface through commands.
      client.on('error', (err: Error) => {
        created.lastError = err;
        for (const l of this.errorListeners) l(key, err);
      });
      client.on('ready', () => {
        created.lastError = undefined;
        for (const f of created.onReady) {
          try {
            f(client);
          } catch {
            // best effort
          }
        }
      });
      entry = created;
      this.entries.set(key, entry);
      this.startTimer();
    }
    entry.lastUsedMs = this.now();
    return entry;
  }

  get size(): number {
    return this.entries.size;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Each held connection's target and whether it is ready (metrics: bulwark_redis_up). Does not mark use. */
  connections(): { target: string; ready: boolean }[] {
    return [...this.entries.values()].map((e) => ({ target: e.target, ready: e.client.status === 'ready' }));
  }

  /** Observe connection errors (ioredis 'error' events), e.g. for a log line on the next request. */
  onError(listener: (key: string, err: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Closes clients unused for `idleMs`; returns how many were closed. */
  sweep(): number {
    const cutoff = this.now() - this.idleMs;
    let closed = 0;
    for (const [key, entry] of this.entries) {
      if (entry.lastUsedMs <= cutoff) {
        this.entries.delete(key);
        entry.client.disconnect();
        closed++;
      }
    }
    if (this.entries.size === 0) this.stopTimer();
    return closed;
  }

  /** Closes every client (tests, shutdown). */
  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    this.stopTimer();
    await Promise.all(
      all.map(async (e) => {
        try {
          // QUIT waits for the replies before it; a Redis that stopped answering would hold it forever.
          await withTimeout(e.client.quit(), 1000, 'QUIT');
        } catch {
          e.client.disconnect();
        }
      }),
    );
  }

  private startTimer(): void {
    if (this.timer !== undefined || this.sweepEveryMs <= 0) return;
    this.timer = setInterval(() => this.sweep(), this.sweepEveryMs);
    this.timer.unref(); // never keeps the plugin server alive
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The process-wide registry every plugin shares. */
export const sharedRedisRegistry = new RedisRegistry();

export class RedisTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} took longer than ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

const readyWaits = new WeakMap<RedisClient, Promise<void>>();

/** One shared promise per client for its next 'ready' (one listener, however many requests wait). */
function nextReady(client: RedisClient): Promise<void> {
  let wait = readyWaits.get(client);
  if (wait === undefined) {
    wait = new Promise<void>((resolve) => {
      client.once('ready', () => {
        readyWaits.delete(client);
        resolve();
      });
    });
    readyWaits.set(client, wait);
  }
  return wait;
}

/**
 * When a connection is given up as dead: STALE_CONNECTION_TIMEOUTS command timeouts in a row on an open
 * connection, and no reply at all (not even a late one) for STALE_CONNECTION_MS since the first of them. A
 * connection whose packets are silently dropped (a lost NAT or conntrack entry, a blackholed route) never errors:
 * without this, every command would time out until the kernel gives up on the socket (~15 minutes of TCP
 * retransmissions), even though a new connection would work at once. The time condition spares a Redis that is
 * only slow for a moment (a CLIENT PAUSE, a long script): its late replies still arrive, and with them the
 * rate limiter's refunds, which a dropped connection would lose.
 */
export const STALE_CONNECTION_TIMEOUTS = 3;
export const STALE_CONNECTION_MS = 5000;

interface ConnectionHealth {
  /** Command timeouts in a row on the current connection, with no reply since. */
  timeouts: number;
  /** When the first of those unanswered commands was sent. */
  unansweredSince?: number;
  /** Recycles the connection at unansweredSince + STALE_CONNECTION_MS unless a reply comes first. */
  timer?: NodeJS.Timeout;
  /** When the connection was last recycled: commands sent before then say nothing about the new one. */
  recycledAt: number;
}

const health = new WeakMap<RedisClient, ConnectionHealth>();

function healthOf(client: RedisClient): ConnectionHealth {
  let h = health.get(client);
  if (h === undefined) {
    h = { timeouts: 0, recycledAt: 0 };
    health.set(client, h);
  }
  return h;
}

/** A reply (or an error reply) came: the connection is alive. */
function markAnswered(h: ConnectionHealth): void {
  h.timeouts = 0;
  h.unansweredSince = undefined;
  if (h.timer !== undefined) clearTimeout(h.timer);
  h.timer = undefined;
}

/**
 * Drops the client's open connection(s) at once (a socket `destroy`, not a QUIT or FIN that a dead path would
 * never acknowledge); ioredis then reconnects with its retry strategy. The error listeners hear why (the
 * registry keeps it as `lastError`). No-op unless connected.
 */
export function recycleConnection(client: RedisClient, reason: string): boolean {
  const h = healthOf(client);
  markAnswered(h);
  if (client.status !== 'ready') return false;
  h.recycledAt = Date.now();
  const streams = client instanceof Cluster ? client.nodes().map((n) => n.stream) : [client.stream];
  for (const stream of streams) stream?.destroy();
  if (client.listenerCount('error') > 0) client.emit('error', new Error(`connection recycled: ${reason}`));
  return true;
}

function noteTimeout(client: RedisClient, sentAt: number, ms: number): void {
  const h = healthOf(client);
  if (sentAt <= h.recycledAt) return;
  h.timeouts++;
  h.unansweredSince ??= sentAt;
  if (h.timeouts < STALE_CONNECTION_TIMEOUTS || h.timer !== undefined) return;
  const since = h.unansweredSince;
  h.timer = setTimeout(
    () => {
      h.timer = undefined;
      if (h.unansweredSince === since) {
        recycleConnection(
          client,
          `${h.timeouts} commands in a row got no reply within ${ms} ms, and nothing came for ${STALE_CONNECTION_MS} ms`,
        );
      }
    },
    Math.max(0, since + STALE_CONNECTION_MS - Date.now()),
  );
  h.timer.unref();
}

/**
 * Sends `command` only once the client is connected, and bounds the whole (wait + command) by `ms`.
 * Why not just `withTimeout(command())`: a command issued while ioredis reconnects waits in its offline queue and
 * is sent when the connection comes back, long after the caller timed out and answered by its outage policy, so a
 * refused request would still be counted. Waiting for 'ready' here means a command that times out before the
 * connection is up is never sent. Timeouts on an open connection feed the stale-connection check above.
 */
export async function whenReady<T>(
  client: RedisClient,
  ms: number,
  what: string,
  command: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  if (client.status !== 'ready') await withTimeout(nextReady(client), ms, `${what} (no Redis connection)`);
  const sentAt = Date.now();
  const sent = command();
  const h = healthOf(client);
  // Any reply, even one that comes after the caller gave up, or an error reply, proves the connection alive.
  sent.then(
    () => sentAt > h.recycledAt && markAnswered(h),
    (err: unknown) => sentAt > h.recycledAt && err instanceof ReplyError && markAnswered(h),
  );
  try {
    return await withTimeout(sent, Math.max(1, ms - (sentAt - started)), what);
  } catch (err) {
    if (err instanceof RedisTimeoutError) noteTimeout(client, sentAt, ms);
    throw err;
  }
}

/**
 * Bounds a Redis call, whether it is sent or still waiting in the
 * offline queue or in a cluster's slot refresh. The late reply, if any, is ignored.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what = 'redis command'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(what, ms)), ms);
  });
  promise.catch(() => undefined); // a rejection after the timeout must not be unhandled
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
