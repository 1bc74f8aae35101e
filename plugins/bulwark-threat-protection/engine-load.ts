// The CRS engine lives in a thread of its own (engine-worker.ts), one per plugin-server process, shared by every
// instance of the plugin. One Node event loop serves every plugin and request of the plugin server: compiling a CRS 4
// rule set costs seconds of CPU (a single re2js parse of a large CRS regex holds a loop for up to a few hundred ms),
// and scanning a 10 KB JSON body costs milliseconds. On the main loop both would stall every request in flight, and
// instance start would come close to Kong's 10 s limit (past it Kong skips the plugin: fail-open). In the thread they
// stall nothing but other scans. The main loop posts the request as the PDK read it (method, path with query,
// headers, the body's bytes in a transferred buffer) and awaits the reply; the thread builds the request model
// (request-model.ts: parsing, decoding, the scan limits) and scores it, so the main loop does no per-value work.
//
// Instance start (Kong's StartInstance, the plugin's constructor) validates the config and posts the build; the
// handler asks `status` and, until the engine is there, refuses (503, logged) unless the operator chose
// on_rules_not_ready: allow. A thread that dies fails every scan in flight (the handler answers 503 scan_failed),
// and a new thread builds every live engine again (requests meanwhile: rules_not_ready). At most
// MAX_PENDING_SCANS scans wait for the thread at once; more are refused (503 scan_failed), never queued without
// bound.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SliceStats } from '../lib/time-slices';
import type { Evaluation } from './crs/engine';
import type {
  EngineSpec,
  EngineSummary,
  FromEngineThread,
  ScanOptions,
  ScanRequest,
  ToEngineThread,
} from './engine-protocol';
import type { ThreatProtectionReason } from './reasons';

/** Scans waiting for the engine thread at once, at most. */
export const MAX_PENDING_SCANS = 1024;

export type EngineStatus = 'compiling' | 'ready' | 'failed';

/** The thread's entry: the compiled sibling; from TypeScript sources (ts-jest, ts-node: development only) the
 * thread loads the .ts entry through ts-node. */
function threadEntry(): { file: string; execArgv: string[] } {
  if (__filename.endsWith('.ts')) {
    return { file: join(__dirname, 'engine-worker.ts'), execArgv: ['--require', 'ts-node/register/transpile-only'] };
  }
  return { file: join(__dirname, 'engine-worker.js'), execArgv: [] };
}

/** A scan's outcome: the evaluation (and what was left unscanned under on_limit: scan_prefix), or the request
 * model's refusal (a scan limit with on_limit: refuse, a malformed body). */
export type ScanResult =
  | { ok: true; evaluation: Evaluation; unscanned: string[] }
  | { ok: false; status: 400 | 413; reason: ThreatProtectionReason; detail: string };

interface PendingScan {
  resolve: (r: ScanResult) => void;
  reject: (e: Error) => void;
}

/** The process's engine thread: started on first use, started again after it dies. */
class EngineThread {
  private worker: Worker | undefined;
  private nextScan = 0;
  private readonly scans = new Map<number, PendingScan>();
  /** Live engines (to build again in a new thread); an engine no instance holds any more is dropped. */
  private readonly loads = new Map<number, WeakRef<EngineLoad>>();
  private readonly building = new Set<number>();
  private readonly collected = new FinalizationRegistry<number>((engine) => {
    this.loads.delete(engine);
    this.building.delete(engine);
    this.worker?.postMessage({ kind: 'drop', engine } satisfies ToEngineThread);
    this.holdProcess();
  });
  /** Scan options per instance (its config object): a profile id, sent to the thread with its first scan. */
  private nextProfile = 0;
  private readonly profiles = new WeakMap<ScanOptions, number>();
  /** Profiles the current thread holds (a new thread holds none). */
  private readonly sentProfiles = new Set<number>();
  private readonly profilesCollected = new FinalizationRegistry<number>((profile) => {
    if (this.sentProfiles.delete(profile))
      this.worker?.postMessage({ kind: 'drop-profile', profile } satisfies ToEngineThread);
  });

  build(load: EngineLoad): void {
    this.loads.set(load.id, new WeakRef(load));
    this.collected.register(load, load.id);
    this.post({ kind: 'build', engine: load.id, spec: load.spec });
    this.building.add(load.id);
    this.holdProcess();
  }

  scan(engine: number, options: ScanOptions, request: ScanRequest): Promise<ScanResult> {
    if (this.scans.size >= MAX_PENDING_SCANS) {
      return Promise.reject(new Error(`${MAX_PENDING_SCANS} scans already wait for the engine thread`));
    }
    const worker = this.thread();
    let profile = this.profiles.get(options);
    if (profile === undefined) {
      profile = ++this.nextProfile;
      this.profiles.set(options, profile);
      this.profilesCollected.register(options, profile);
    }
    const sendOptions = !this.sentProfiles.has(profile);
    if (sendOptions) this.sentProfiles.add(profile);
    const id = ++this.nextScan;
    const verdict = new Promise<ScanResult>((resolve, reject) => this.scans.set(id, { resolve, reject }));
    // The body's bytes go in a buffer of their own, transferred: the handler's array may be a view into a larger
    // buffer (the RPC decoder's read buffer) that cloning would copy whole and transferring would detach.
    const body = request.body === undefined ? undefined : new Uint8Array(request.body);
    const message: ToEngineThread = {
      kind: 'scan',
      id,
      engine,
      profile,
      ...(sendOptions
        ? { options: { headers: options.headers, limits: options.limits, onLimit: options.onLimit } }
        : {}),
      request: { method: request.method, pathWithQuery: request.pathWithQuery, headers: request.headers, body },
    };
    worker.postMessage(message, body === undefined ? [] : [body.buffer]);
    this.holdProcess();
    return verdict;
  }

  /** Ends the thread as a crash would (tests). */
  async terminateForTests(): Promise<void> {
    await this.worker?.terminate();
  }

  private post(message: ToEngineThread): void {
    this.thread().postMessage(message);
  }

  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const { file, execArgv } = threadEntry();
    const worker = new Worker(file, { execArgv });
    worker.on('message', (m: FromEngineThread) => this.receive(m));
    // An uncaught error in the thread ends it; 'exit' follows and does the recovery.
    worker.on('error', () => undefined);
    worker.on('exit', (code) => this.died(worker, code));
    this.worker = worker;
    return worker;
  }

  private receive(m: FromEngineThread): void {
    if (m.kind === 'scanned' || m.kind === 'refused' || m.kind === 'scan-failed') {
      const scan = this.scans.get(m.id);
      this.scans.delete(m.id);
      if (m.kind === 'scanned') {
        const evaluation = m.evaluation ?? { score: 0, categoryScores: {}, matches: [] };
        scan?.resolve({ ok: true, evaluation, unscanned: m.unscanned ?? [] });
      } else if (m.kind === 'refused') {
        scan?.resolve({ ok: false, status: m.status, reason: m.reason, detail: m.detail });
      } else scan?.reject(new Error(m.error));
    } else {
      this.building.delete(m.engine);
      const load = this.loads.get(m.engine)?.deref();
      if (m.kind === 'built') load?.built(m.summary, m.stats);
      else load?.failed(m.error, m.stats);
    }
    this.holdProcess();
  }

  private died(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const scans = [...this.scans.values()];
    this.scans.clear();
    this.building.clear();
    this.sentProfiles.clear();
    for (const scan of scans) scan.reject(new Error(`the engine thread exited (code ${code})`));
    for (const [engine, ref] of this.loads) {
      const load = ref.deref();
      if (load === undefined) this.loads.delete(engine);
      else if (load.status !== 'failed') {
        load.rebuilding();
        this.post({ kind: 'build', engine, spec: load.spec });
        this.building.add(engine);
      }
    }
    this.holdProcess();
  }

  /** The thread keeps the process alive only while work is in flight (a script awaiting a build; never an idle
   * plugin server that is being stopped). */
  private holdProcess(): void {
    if (this.worker === undefined) return;
    if (this.scans.size > 0 || this.building.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}

const engineThread = new EngineThread();
let nextEngineId = 0;

/** Ends the engine thread as a crash would: scans in flight fail, live engines are built again (tests). */
export function terminateEngineThreadForTests(): Promise<void> {
  return engineThread.terminateForTests();
}

/** One engine (a rule set at a paranoia level with exclusions), built in the engine thread. */
export class EngineLoad {
  readonly id = ++nextEngineId;
  private state: EngineStatus = 'compiling';
  private error: string | undefined;
  private settle!: { resolve: (s: EngineSummary) => void; reject: (e: Error) => void };
  /** Settles when the first build ends; rejects with the build's error. */
  readonly ready: Promise<EngineSummary>;
  /** Slices the build took in the thread and the longest of them. */
  readonly stats: SliceStats = { slices: 0, longestMs: 0 };

  constructor(
    readonly spec: EngineSpec,
    private readonly onFailure?: () => void,
  ) {
    this.ready = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.ready.catch(() => undefined); // the status says it; nobody has to await it
    engineThread.build(this);
  }

  get status(): EngineStatus {
    return this.state;
  }

  /** Why the build failed, once it did. */
  failure(): string | undefined {
    return this.error;
  }

  /** Builds the request model and scores it in the engine thread, with `options` (the instance's config: the
   * same object for every scan of an instance, so that its options travel once); rejects when the thread fails
   * the scan, died or is full. */
  scan(request: ScanRequest, options: ScanOptions): Promise<ScanResult> {
    return engineThread.scan(this.id, options, request);
  }

  /** @internal the thread's report */
  built(summary: EngineSummary, stats: SliceStats): void {
    this.record(stats);
    this.state = 'ready';
    this.settle.resolve(summary);
  }

  /** @internal the thread's report */
  failed(error: string, stats: SliceStats): void {
    this.record(stats);
    this.state = 'failed';
    this.error = error;
    this.settle.reject(new Error(error));
    this.onFailure?.();
  }

  /** @internal a new thread builds the engine again */
  rebuilding(): void {
    this.state = 'compiling';
  }

  private record(stats: SliceStats): void {
    this.stats.slices += stats.slices;
    this.stats.longestMs = Math.max(this.stats.longestMs, stats.longestMs);
  }
}
