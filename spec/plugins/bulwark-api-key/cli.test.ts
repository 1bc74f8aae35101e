// scripts/api-key.ts run as a user runs it (node dist/js/scripts/api-key.js, after `npm run build`), against a
// kong.yml on disk and a real redis-server: what it prints is what the plugin accepts, keys are shown once and
// never listed, and the records it writes to Redis are what the plugin reads.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import * as apiKey from '../../../plugins/bulwark-api-key';
import type { ApiKeyConfig } from '../../../plugins/bulwark-api-key/config';
import { parseKey } from '../../../plugins/bulwark-api-key/key-format';
import { hashKey, parseKeyRecord } from '../../../plugins/bulwark-api-key/key-record';
import { startRedis, type RedisServer } from '../../helpers/redis';

const SCRIPT = path.join(__dirname, '..', '..', '..', 'dist', 'js', 'scripts', 'api-key.js');
const PEPPER = 'cli-test-pepper-0123456789abcdefghijkl';

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** The key a command printed once on stderr. */
const keyIn = (r: Run): string => /\n(bwk_[a-z0-9_]+_[0-9A-Za-z]{32}_[0-9A-Za-z]{6})\n/.exec(r.err)![1]!;

let dir: string;
let redisServer: RedisServer;
let redis: Redis;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bak-cli-'));
  redisServer = await startRedis();
  redis = new Redis({ port: redisServer.port, host: redisServer.host });
});
afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('declarative store', () => {
  test('issue prints a kong.yml entry the plugin accepts and the key once; rotate, revoke and list read the file', async () => {
    const issued = await cli(
      [
        'issue',
        '--store',
        'declarative',
        '--prefix',
        'bwk_live',
        '--id',
        'acme-1',
        '--consumer',
        'acme',
        '--scope',
        'orders:read',
        '--label',
        'partner',
        '--expires-in-days',
        '30',
        '--pepper-env',
        'PEPPER',
      ],
      {
        PEPPER,
      },
    );
    expect(issued.code).toBe(0);
    const key = keyIn(issued);
    expect(parseKey(key, new Set(['bwk_live'])).ok).toBe(true);
    expect(issued.out).not.toContain(key);
    const entries = parseYaml(issued.out) as Record<string, unknown>[];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      id: 'acme-1',
      consumer: 'acme',
      scopes: ['orders:read'],
      labels: ['partner'],
      display_prefix: key.slice(0, 13),
    });
    expect(entries[0]!.hash).toBe(hashKey(key, PEPPER));

    // The operator pastes it into kong.yml; the plugin starts with it and finds the key by its hash.
    const kongYml = path.join(dir, 'kong.yml');
    const doc = {
      _format_version: '3.0',
      services: [
        {
          name: 's',
          url: 'http://echo:8080',
          routes: [
            {
              name: 'r',
              paths: ['/r'],
              plugins: [{ name: 'bulwark-api-key', config: { pepper: PEPPER, keys: entries } }],
            },
          ],
        },
      ],
    };
    fs.writeFileSync(kongYml, toYaml(doc));
    const plugin = new apiKey.Plugin({ key_prefixes: ['bwk_live'], pepper: PEPPER, keys: entries }) as unknown as {
      conf: ApiKeyConfig;
    };
    const found = await plugin.conf.store.lookup(hashKey(key, PEPPER), Date.now());
    expect(found).toMatchObject({ found: true, record: { id: 'acme-1' } });

    const listed = await cli(['list', '--store', 'declarative', '--config', kongYml, '--json']);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.out) as Record<string, unknown>[];
    expect(rows).toEqual([
      expect.objectContaining({
        id: 'acme-1',
        display_prefix: key.slice(0, 13),
        location: 'services[0].routes[0].plugins[0]',
      }),
    ]);
    expect(listed.out).not.toContain(key);
    expect(listed.out).not.toContain(hashKey(key, PEPPER).slice(12));

    const before = Date.now();
    const rotated = await cli(
      [
        'rotate',
        '--store',
        'declarative',
        '--config',
        kongYml,
        '--id',
        'acme-1',
        '--grace-seconds',
        '3600',
        '--pepper-env',
        'PEPPER',
      ],
      { PEPPER },
    );
    expect(rotated.code).toBe(0);
    const successor = keyIn(rotated);
    const both = parseYaml(rotated.out.replace(/^#.*\n/, '')) as Record<string, unknown>[];
    expect(both).toHaveLength(2);
    expect(both[0]).toMatchObject({
      consumer: 'acme',
      scopes: ['orders:read'],
      labels: ['partner'],
      hash: hashKey(successor, PEPPER),
    });
    expect(both[1]).toMatchObject({ id: 'acme-1', hash: hashKey(key, PEPPER) });
    const graceEnd = Date.parse(both[1]!.expires_at as string);
    expect(graceEnd).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(graceEnd).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);

    const revoked = await cli(['revoke', '--store', 'declarative', '--config', kongYml, '--id', 'acme-1']);
    expect(revoked.code).toBe(0);
    expect(parseYaml(revoked.out.replace(/^#.*\n/, ''))).toEqual([
      expect.objectContaining({ id: 'acme-1', disabled: true }),
    ]);
  });

  test('refusals: a bad prefix, an unknown id, a missing pepper variable, an unknown option (exit 2, nothing on stdout)', async () => {
    const cases: string[][] = [
      ['issue', '--store', 'declarative', '--prefix', 'BWK'],
      ['revoke', '--store', 'declarative', '--config', path.join(dir, 'kong.yml'), '--id', 'nope'],
      ['issue', '--store', 'declarative', '--prefix', 'bwk_live', '--pepper-env', 'UNSET_PEPPER_VARIABLE'],
      ['issue', '--store', 'declarative', '--prefix', 'bwk_live', '--secret', 'x'],
    ];
    for (const args of cases) {
      const r = await cli(args);
      expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: '' });
      expect(r.err).toMatch(/error|unknown|invalid/);
    }
  });
});

describe('redis store', () => {
  test('issue writes the record the plugin reads; rotate sets the grace period; revoke disables; list never shows a secret', async () => {
    const url = `redis://127.0.0.1:${redisServer.port}`;
    const issued = await cli([
      'issue',
      '--store',
      'redis',
      '--redis',
      url,
      '--redis-prefix',
      'cli-ak',
      '--prefix',
      'bwk_test',
      '--id',
      'p-1',
      '--scope',
      'a',
    ]);
    expect(issued.code).toBe(0);
    expect(issued.out).toMatch(/^issued p-1 bwk_test_[0-9A-Za-z]{4}\n$/);
    const key = keyIn(issued);
    const stored = parseKeyRecord(JSON.parse((await redis.get(`cli-ak:key:${hashKey(key, undefined)}`))!), 'r');
    expect(stored).toMatchObject({ id: 'p-1', scopes: ['a'], disabled: false });
    expect(await redis.get('cli-ak:id:p-1')).toBe(stored.hash);

    const again = await cli([
      'issue',
      '--store',
      'redis',
      '--redis',
      url,
      '--redis-prefix',
      'cli-ak',
      '--prefix',
      'bwk_test',
      '--id',
      'p-1',
    ]);
    expect(again.code).toBe(2);
    expect(again.err).toContain('a key with id p-1 exists already');

    const rotated = await cli([
      'rotate',
      '--store',
      'redis',
      '--redis',
      url,
      '--redis-prefix',
      'cli-ak',
      '--id',
      'p-1',
      '--grace-seconds',
      '60',
      '--new-id',
      'p-2',
    ]);
    expect(rotated.code).toBe(0);
    const successor = keyIn(rotated);
    const old = parseKeyRecord(JSON.parse((await redis.get(`cli-ak:key:${stored.hash}`))!), 'r');
    expect(old.expiresAt! - Date.now()).toBeGreaterThan(55_000);
    expect(old.expiresAt! - Date.now()).toBeLessThanOrEqual(61_000);
    expect(JSON.parse((await redis.get(`cli-ak:key:${hashKey(successor, undefined)}`))!)).toMatchObject({
      id: 'p-2',
      scopes: ['a'],
    });

    await redis.hset('cli-ak:last-used', 'p-2', '2026-11-30T12:00:00Z'); // as the plugin writes it on a lookup
    expect(
      (await cli(['revoke', '--store', 'redis', '--redis', url, '--redis-prefix', 'cli-ak', '--id', 'p-1'])).code,
    ).toBe(0);
    const listed = await cli(['list', '--store', 'redis', '--redis', url, '--redis-prefix', 'cli-ak', '--json']);
    expect(listed.code).toBe(0);
    const rows = JSON.parse(listed.out) as Record<string, unknown>[];
    expect(rows.map((r) => [r.id, r.disabled, r.last_used ?? null])).toEqual([
      ['p-1', true, null],
      ['p-2', false, '2026-11-30T12:00:00Z'],
    ]);
    for (const secret of [key, successor, stored.hash.slice(7)]) expect(listed.out).not.toContain(secret);
    const table = await cli(['list', '--store', 'redis', '--redis', url, '--redis-prefix', 'cli-ak']);
    expect(table.out.split('\n')[0]).toBe(
      'id\tdisplay_prefix\tconsumer\tscopes\tlabels\tnot_before\texpires_at\tdisabled\tlast_used',
    );
  });

  test('Redis unreachable: exit 1 with the reason, no key printed', async () => {
    const r = await cli(['issue', '--store', 'redis', '--redis', 'redis://127.0.0.1:1', '--prefix', 'bwk_test']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: /);
    expect(r.err).not.toMatch(/bwk_test_/);
  });
});
