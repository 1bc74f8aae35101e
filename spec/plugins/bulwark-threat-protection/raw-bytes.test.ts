// The request model keeps the bytes the client sent when they are not UTF-8. Kong 3.9 passes them as they came
// (kong/runloop/plugin_servers/mp_rpc.lua packs Lua strings as MessagePack str of their bytes); bulwark-pluginserver
// hands each byte of a bad sequence to the plugin as U+DC00 + byte (plugins/lib/kong-strings.ts); the model turns
// those back into the byte, so CRS and libinjection read what ModSecurity reads (modsecurity.test.ts compares the
// verdicts with libmodsecurity itself).
import { compileCrsDirectory } from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../../plugins/bulwark-threat-protection/crs/engine';
import { LIBINJECTION_DETECTORS } from '../../../plugins/bulwark-threat-protection/libinjection';
import { defaultScanLimits } from '../../../plugins/bulwark-threat-protection/config';
import { buildRequestModel } from '../../../plugins/bulwark-threat-protection/request-model';
import { CRS4_RULES } from '../../../scripts/modsec/verdicts';

const LIMITS = defaultScanLimits();

const model = (pathWithQuery: string, headers: Record<string, string[]>) => {
  const m = buildRequestModel({ method: 'GET', pathWithQuery, headers }, ['user-agent', 'referer'], LIMITS, 'refuse');
  if (!m.ok) throw new Error(m.detail);
  return m.values;
};

test('escaped bytes in headers, cookies and the path are the bytes again (one char per byte)', () => {
  const values = model('/a\uDCE0b?q=\uDCA0', {
    'user-agent': ['\uDCE0<script>é'],
    cookie: ['a=1\uDCA0OR\uDCA01=1'],
  });
  const find = (collection: string, name = '') =>
    values.find((v) => v.collection === collection && v.name === name)?.value;
  expect(find('REQUEST_HEADERS', 'user-agent')).toBe('\xe0<script>\xc3\xa9');
  expect(find('REQUEST_COOKIES', 'a')).toBe('1\xa0OR\xa01=1');
  expect(find('REQUEST_FILENAME')).toBe('/a\xe0b');
  expect(find('ARGS_GET', 'q')).toBe('\xa0');
});

test('SQL with 0xA0 (NBSP, whitespace to libinjection and MySQL) as the spaces is detected in a cookie', () => {
  const engine = new CrsEngine(compileCrsDirectory(CRS4_RULES), {
    paranoiaLevel: 1,
    detectors: LIBINJECTION_DETECTORS,
  });
  const ids = engine.evaluate(model('/', { cookie: ['a=1\uDCA0OR\uDCA01=1'] })).matches.map((m) => m.id);
  expect(ids).toContain(942100); // libinjection SQLi, as ModSecurity matches (modsecurity.test.ts)
});
