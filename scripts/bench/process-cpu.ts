// CPU time of plugin-server processes and their threads, read from Linux /proc, for the benches that drive a plugin
// server through the Kong emulator (chain.ts, threat-pluginserver.ts). Two clocks:
// - /proc/<pid>/stat utime + stime: 10 ms ticks, a process tree at a time (the stock server runs one process per
//   plugin; bulwark-pluginserver with --workers N forks N); good over many requests;
// - /proc/<pid>/task/<tid>/schedstat: each thread's time on a CPU in ns (the scheduler's own sum), fine enough to
//   sample one request at a time.
import fs = require('fs');

/** CPU (user + system, ms) of a process and all its descendants, from /proc; NaN where /proc is missing. */
export function treeCpuMs(rootPid: number): number {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return NaN;
  }
  for (const e of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(e);
      const ppid = Number(fields[1]);
      cpu.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
      const list = children.get(ppid) ?? [];
      list.push(pid);
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += cpu.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** Every thread of a process with its time on a CPU so far (ns, /proc/<pid>/task/<tid>/schedstat); the main thread
 * (the event loop of a Node process) has tid = pid. Empty where /proc is missing. */
export function threadRuntimesNs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tasks: string[];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8');
      out.set(Number(t), Number(s.slice(0, s.indexOf(' '))));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
