// bulwark-guard's handler.lua on LuaJIT, the engine Kong runs (the emulator runs the same file on Lua 5.3 in
// fengari). kong-stub.lua calls it as Kong 3.9.3 does; see that file. Debian package `luajit` (.ci/run installs it).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..', '..');
const hasLuajit = spawnSync('luajit', ['-v']).status === 0;
// CI installs luajit: there a missing engine is a failure, not a skip.
const maybe = hasLuajit || process.env.CI ? test : test.skip;

maybe(
  'on LuaJIT: wraps only bulwark-* access handlers, once; 503 + log line without an allow/monitor-deny record; nothing otherwise',
  () => {
    const r = spawnSync('luajit', [path.join(__dirname, 'kong-stub.lua'), root], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]),
    );
    expect(lines.get('init-log')).toBe('notice {"plugin":"bulwark-guard","event":"guarding","plugins":"bulwark-jwt"}');
    expect(lines.get('wrapped-jwt')).toBe('true true');
    expect(lines.get('wrapped-cors')).toBe('false');
    expect(lines.get('allow')).toBe('- 0  ');
    expect(lines.get('monitor')).toBe('- 0  ');
    expect(lines.get('legacy')).toBe('- 0  ');
    // a deny record whose exit never reached Kong (RPC failed after the record): refused
    expect(lines.get('deny-no-exit')).toMatch(/^503 1 Service unavailable err .*"reason":"unexpected decision record"/);
    expect(lines.get('reject')).toBe('401 0 Unauthorized '); // the plugin's own exit: the guard's check never runs
    expect(lines.get('rpc-failed')).toBe(
      '503 1 Service unavailable err {"plugin":"bulwark-guard","event":"undecided","guarded_plugin":"bulwark-jwt",' +
        '"reason":"no decision recorded (plugin server unreachable or RPC failed)","action":"rejected with 503"}',
    );
    expect(lines.get('wrong-record')).toMatch(/^503 1 Service unavailable err .*"reason":"unexpected decision record"/);
    expect(lines.get('already-answered')?.trimEnd()).toBe('403 0');
  },
);
