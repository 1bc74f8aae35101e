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
    // The record is where kong.log.set_serialize_value puts it (kong/pdk/log.lua 3.9.3 lines 636-662:
    // ngx.ctx.serialize_values), read with edit_result's modes (lines 708-755): the last "set" wins.
    expect(lines.get('after-redactions')).toBe('- 0  ');
    expect(lines.get('deny-then-allow')).toBe('- 0  ');
    expect(lines.get('allow-then-deny')).toMatch(
      /^503 1 Service unavailable err .*"reason":"unexpected decision record"/,
    );
    const undecided = /^503 1 Service unavailable err .*"reason":"no decision recorded/;
    expect(lines.get('replace-missing')).toMatch(undecided); // "replace" writes only an existing value
    expect(lines.get('other-plugin')).toMatch(undecided);
    // kong.ctx.shared (where records were before) no longer counts: guard and plugin server ship together
    expect(lines.get('ctx-shared-only')).toMatch(undecided);
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
