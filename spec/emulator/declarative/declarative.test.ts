// Pins the emulator's declarative loader to Kong 3.9's DB-less loader behaviour. Each test names the Kong
// source it follows (Kong/kong, kong/db/...).
import { readFileSync } from 'fs';
import { join } from 'path';
import { DeclarativeConfigError, loadDeclarative, serviceUrl, uuidV5 } from '../../../kong/emulator/declarative';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures/declarative', name), 'utf8');

/** The error messages a load produces (fails the test if it loads). */
function errorsOf(text: string, opts?: Parameters<typeof loadDeclarative>[1]): string[] {
  try {
    loadDeclarative(text, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(DeclarativeConfigError);
    return (e as DeclarativeConfigError).errors;
  }
  throw new Error('expected the configuration to be rejected');
}

const v3 = (body: string) => `_format_version: "3.0"\n${body}`;

describe('loadDeclarative: a valid file (declarative_config.lua flatten)', () => {
  const config = loadDeclarative(fixture('valid.yml'));
  const service = (name: string) => config.services.find((s) => s.name === name)!;
  const route = (name: string) => config.routes.find((r) => r.name === name)!;

  test('services.lua url shorthand expands to protocol/host/port/path', () => {
    expect(service('echo')).toMatchObject({ protocol: 'http', host: 'echo', port: 8080 });
    expect(service('echo').path).toBeUndefined();
    expect(service('secure')).toMatchObject({ protocol: 'https', host: 'backend.internal', port: 443, path: '/v1' });
    expect(serviceUrl(service('secure'))).toBe('https://backend.internal:443/v1');
  });

  test('services.lua defaults: timeouts 60000, retries 5, enabled', () => {
    expect(service('echo')).toMatchObject({
      connect_timeout: 60000,
      read_timeout: 60000,
      write_timeout: 60000,
      retries: 5,
      enabled: true,
    });
  });

  test('routes.lua defaults: protocols http+https, strip_path, no preserve_host, regex_priority 0, 426', () => {
    expect(route('api')).toMatchObject({
      protocols: ['http', 'https'],
      strip_path: true,
      preserve_host: false,
      regex_priority: 0,
      https_redirect_status_code: 426,
    });
    expect(route('users').strip_path).toBe(false);
  });

  test('nested routes get their service', () => {
    expect(route('api').service).toBe(service('echo').id);
    expect(route('admin').service).toBe(service('secure').id);
  });

  test("top-level references by name or id resolve to ids; decK's {name} form is not Kong's", () => {
    const c = loadDeclarative(
      v3(
        'services:\n  - name: s\n    host: x\nroutes:\n  - name: r\n    service: s\n    paths: [/r]\n' +
          'consumers:\n  - username: bob\nplugins:\n  - name: cors\n    route: r\n    consumer: bob\n',
      ),
    );
    expect(c.routes[0]!.service).toBe(c.services[0]!.id);
    expect(c.plugins[0]).toMatchObject({ route: c.routes[0]!.id, consumer: c.consumers[0]!.id });
    const byId = loadDeclarative(
      v3(`services:\n  - name: s\n    host: x\nroutes:\n  - service: {id: ${c.services[0]!.id}}\n    paths: [/r]\n`),
    );
    expect(byId.routes[0]!.service).toBe(c.services[0]!.id);
    expect(
      errorsOf(v3('services:\n  - name: s\n    host: x\nroutes:\n  - service: {name: s}\n    paths: [/r]\n'))[0],
    ).toMatch(/^routes\[0\]\.service: expected a string/);
  });

  test('nested plugins get their parent reference implicitly; top-level ones keep theirs', () => {
    const byScope = config.plugins.map((p) => ({
      name: p.name,
      route: p.route,
      service: p.service,
      consumer: p.consumer,
    }));
    const alice = config.consumers.find((c) => c.username === 'alice')!;
    expect(byScope).toEqual(
      expect.arrayContaining([
        { name: 'cors', route: route('api').id, service: undefined, consumer: undefined },
        { name: 'rate-limiting', route: undefined, service: service('secure').id, consumer: undefined },
        { name: 'rate-limiting', route: undefined, service: undefined, consumer: alice.id },
        { name: 'key-auth', route: route('admin').id, service: undefined, consumer: undefined },
        { name: 'correlation-id', route: undefined, service: undefined, consumer: undefined },
      ]),
    );
    expect(config.plugins.every((p) => p.enabled)).toBe(true);
    expect(config.plugins.find((p) => p.name === 'cors')!.config).toEqual({ origins: ['https://app.example'] });
    expect(config.plugins.find((p) => p.name === 'correlation-id')!.protocols).toEqual([
      'grpc',
      'grpcs',
      'http',
      'https',
    ]);
  });

  test('ids are UUIDs derived from names like Kong (uuid v5), stable across loads and unique', () => {
    const again = loadDeclarative(fixture('valid.yml'));
    expect(again.services.map((s) => s.id)).toEqual(config.services.map((s) => s.id));
    expect(again.plugins.map((p) => p.id)).toEqual(config.plugins.map((p) => p.id));
    const all = [...config.services, ...config.routes, ...config.consumers, ...config.plugins].map((e) => e.id);
    expect(new Set(all).size).toBe(all.length);
    for (const id of all) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('uuidV5 follows RFC 4122 (the DNS-namespace vector for www.example.com)', () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  test('an explicit id is kept, and references may use it', () => {
    const id = '0c61b6a7-79b5-4bd8-a4ea-2b3b1b6e2a11';
    const c = loadDeclarative(
      v3(`services:\n  - id: ${id}\n    host: a.example\nroutes:\n  - service: ${id}\n    paths: [/a]\n`),
    );
    expect(c.services[0]!.id).toBe(id);
    expect(c.routes[0]!.service).toBe(id);
    expect(c.services[0]!.port).toBe(80);
  });

  test('JSON input is accepted (YAML is a superset)', () => {
    const c = loadDeclarative(
      JSON.stringify({ _format_version: '3.0', services: [{ name: 's', url: 'http://x:81/p' }] }),
    );
    expect(c.services[0]).toMatchObject({ host: 'x', port: 81, path: '/p' });
  });

  test('_transform and _comment are accepted (declarative_config.lua build_fields)', () => {
    expect(() => loadDeclarative(v3('_transform: false\n_comment: hi\n'))).not.toThrow();
  });
});

describe('loadDeclarative: format versions (declarative/migrations/route_path.lua)', () => {
  test('1.1/2.1 route paths that look like regexes get "~", plain ones are normalised', () => {
    const c = loadDeclarative(fixture('legacy-2.1.yml'));
    expect(c.routes[0]!.paths).toEqual(['~/orders/\\d+', '/plain', '/a/b']);
  });

  test('in 3.0 a regex must be written with "~"; without it the path is a literal prefix', () => {
    const c = loadDeclarative(v3('routes:\n  - paths: ["/orders/\\\\d+"]\n'));
    expect(c.routes[0]!.paths).toEqual(['/orders/\\d+']);
  });

  test('_format_version is required and must be 1.1, 2.1 or 3.0', () => {
    expect(errorsOf('services: []\n')).toEqual(['_format_version: required field missing']);
    expect(errorsOf('_format_version: "9.9"\n')).toEqual(['_format_version: expected one of: 1.1, 2.1, 3.0']);
  });
});

describe('loadDeclarative: rejections, each naming the entity and field', () => {
  test('unknown top-level keys and unsupported Kong collections', () => {
    expect(errorsOf(v3('servicez: []\n'))).toEqual(['servicez: unknown field']);
    expect(errorsOf(v3('upstreams: []\n'))[0]).toMatch(/^upstreams: .*does not support/);
  });

  test('unknown entity fields, and 3.x-only fields the emulator cannot honour', () => {
    expect(errorsOf(v3('services:\n  - name: s\n    host: x\n    colour: red\n'))).toEqual([
      'services[0].colour: unknown field',
    ]);
    expect(errorsOf(v3('plugins:\n  - name: cors\n    ordering: {before: {access: [x]}}\n'))[0]).toMatch(
      /^plugins\[0\]\.ordering: /,
    );
  });

  test('duplicate names (typedefs.name unique=true)', () => {
    const errs = errorsOf(v3('services:\n  - name: s\n    host: a\n  - name: s\n    host: b\n'));
    expect(errs).toEqual([expect.stringMatching(/^services\[1\]: uniqueness violation.*'s'/)]);
  });

  test('duplicate keys in the YAML itself', () => {
    expect(errorsOf(v3('services: []\nservices: []\n'))[0]).toMatch(/unique/i);
  });

  test('dangling references (validate_references: "no such entry")', () => {
    expect(errorsOf(fixture('invalid-dangling.yml'))).toEqual([
      "routes[0].service: invalid reference 'service: does-not-exist' (no such entry in 'services')",
    ]);
    expect(errorsOf(v3('plugins:\n  - name: cors\n    consumer: bob\n'))).toEqual([
      "plugins[0].consumer: invalid reference 'consumer: bob' (no such entry in 'consumers')",
    ]);
  });

  test('a route with none of methods/hosts/headers/paths (routes_subschemas.lua)', () => {
    const errs = errorsOf(v3('routes:\n  - name: a\n    paths: [/a]\n  - name: b\n  - name: c\n    hosts: []\n'));
    expect(errs).toEqual([
      "routes[1]: must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'",
      "routes[2]: must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'",
    ]);
  });

  test('paths must start with / or ~/ (typedefs.router_path)', () => {
    const errs = errorsOf(
      v3('routes:\n  - name: a\n    paths: [/ok]\n  - name: b\n    paths: [/ok]\n  - name: c\n    paths: [/ok, api]\n'),
    );
    expect(errs).toEqual(['routes[2].paths[1]: should start with: / (fixed path) or ~/ (regex path)']);
  });

  test("an invalid regex after ~, and regex features Kong's Rust router lacks", () => {
    expect(errorsOf(v3('routes:\n  - paths: ["~/users/(\\\\d+"]\n'))[0]).toMatch(
      /^routes\[0\]\.paths\[0\]: invalid regex/,
    );
    expect(errorsOf(v3('routes:\n  - paths: ["~/a(?=b)"]\n'))[0]).toMatch(
      /^routes\[0\]\.paths\[0\]: invalid regex.*look-around/,
    );
  });

  test('prefix paths must be normalised; empty segments are refused', () => {
    expect(errorsOf(v3('routes:\n  - paths: [/a/../b]\n'))).toEqual([
      "routes[0].paths[0]: non-normalized path, consider use '/b' instead",
    ]);
    expect(errorsOf(v3('routes:\n  - paths: [/a//b]\n'))).toEqual(['routes[0].paths[0]: must not have empty segments']);
    expect(errorsOf(v3('routes:\n  - paths: ["/%7Euser"]\n'))[0]).toMatch(
      /non-normalized path, consider use '\/~user'/,
    );
  });

  test("a plugin not in knownPlugins is rejected with Kong's wording", () => {
    const text = v3('plugins:\n  - name: cors\n  - name: bulwark-nope\n');
    expect(errorsOf(text, { knownPlugins: new Set(['cors']) })).toEqual([
      "plugins[1].name: plugin 'bulwark-nope' not enabled; add it to the 'plugins' configuration property",
    ]);
    expect(() => loadDeclarative(text)).not.toThrow();
  });

  test('two plugins of one name on the same scope (plugins.lua cache_key)', () => {
    const errs = errorsOf(
      v3(
        'services:\n  - name: s\n    host: x\n    plugins:\n      - name: cors\nplugins:\n  - name: cors\n    service: s\n',
      ),
    );
    expect(errs).toEqual([expect.stringMatching(/^plugins\[0\]: uniqueness violation: plugin 'cors'/)]);
  });

  test('a nested entity may not name its parent again ("value must be null")', () => {
    expect(
      errorsOf(v3('services:\n  - name: s\n    host: x\n    routes:\n      - paths: [/a]\n        service: s\n')),
    ).toEqual(['services[0].routes[0].service: value must be null']);
  });

  test('field types and ranges (typedefs: port, protocol, https_redirect_status_code, methods)', () => {
    const errs = errorsOf(
      v3(
        'services:\n  - name: s\n    host: x\n    port: 70000\n  - name: t\n    url: tcp://x:9\n' +
          'routes:\n  - paths: [/a]\n    https_redirect_status_code: 418\n    methods: [get]\n',
      ),
    );
    expect(errs).toEqual([
      'services[0].port: value should be between 0 and 65535',
      "services[1].protocol: 'tcp' is not supported by the Bulwark emulator (http and https only)",
      "routes[0].methods[0]: invalid value 'get': must be uppercase letters",
      'routes[0].https_redirect_status_code: expected one of: 426, 301, 302, 307, 308',
    ]);
  });

  test('every problem is reported, not only the first', () => {
    const errs = errorsOf(v3('foo: 1\nroutes:\n  - name: a\n'));
    expect(errs).toHaveLength(2);
  });

  test('a consumer needs a username or a custom_id', () => {
    expect(errorsOf(v3('consumers:\n  - tags: [x]\n'))).toEqual([
      "consumers[0]: at least one of these fields must be non-empty: 'custom_id', 'username'",
    ]);
  });
});
