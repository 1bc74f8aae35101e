// The CRS engine against ModSecurity itself (libmodsecurity 3.0.9, the engine CRS is written for; Debian
// libmodsecurity-dev, which .ci/run installs): the same requests through both, rule ids compared per request, and
// each transformation CRS uses compared output by output. The differences that remain are listed with their cause in
// spec/fixtures/modsecurity/known-differences.json; any other difference fails. scripts/modsec/verdicts.ts runs the
// whole corpora (node dist/js/scripts/modsec/verdicts.js) and prints the agreement per rule id.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileCrsDirectory } from '../../../plugins/bulwark-threat-protection/crs/compile';
import { CrsEngine } from '../../../plugins/bulwark-threat-protection/crs/engine';
import { TRANSFORMS } from '../../../plugins/bulwark-threat-protection/crs/transforms';
import { LIBINJECTION_DETECTORS } from '../../../plugins/bulwark-threat-protection/libinjection';
import {
  apiCases,
  attackCases,
  type Case,
  compareCase,
  compileHarness,
  wholeRequest,
  CRS4_RULES,
  englishCases,
  modsecTransformations,
  ruleFiles,
  runModSecurity,
  tally,
  TRANSFORMATION_PROBES,
} from '../../../scripts/modsec/verdicts';

interface KnownDifferences {
  reasons: Record<string, string>;
  verdicts: { corpus: string; value: string; onlyModSecurity: number[]; onlyBulwark: number[]; reason: string }[];
  transformations: { transformation: string; input: string; reason: string }[];
}

const KNOWN = JSON.parse(
  readFileSync(join(__dirname, '../../fixtures/modsecurity/known-differences.json'), 'utf8'),
) as KnownDifferences;

const harness = compileHarness();
const bin = () => {
  if ('error' in harness) throw new Error(`cannot build scripts/modsec/modsec-verdicts.c: ${harness.error}`);
  return harness.bin;
};

test('the known differences name a documented reason each', () => {
  for (const k of [...KNOWN.verdicts, ...KNOWN.transformations]) expect(Object.keys(KNOWN.reasons)).toContain(k.reason);
});

test('each transformation CRS 4.28.0 and 3.3 use gives ModSecurity 3.0.9 output on the edge-case inputs', () => {
  const names = [...TRANSFORMS.keys()];
  const theirs = modsecTransformations(
    bin(),
    names.map((n) => [n]),
    TRANSFORMATION_PROBES,
  );
  const differences: { transformation: string; input: string; ours: string; modsec: string | undefined }[] = [];
  names.forEach((name, i) =>
    TRANSFORMATION_PROBES.forEach((input, j) => {
      const ours = TRANSFORMS.get(name)!(input);
      if (ours !== theirs[i]![j]) differences.push({ transformation: name, input, ours, modsec: theirs[i]![j] });
    }),
  );
  const known = new Set(KNOWN.transformations.map((k) => `${k.transformation} ${k.input}`));
  // Every probe produced an output on ModSecurity's side (no logdata cut), and only the known ones differ.
  expect(differences.filter((d) => d.modsec === undefined)).toEqual([]);
  expect(differences.filter((d) => !known.has(`${d.transformation} ${d.input}`))).toEqual([]);
  // A known difference that no longer differs is stale: remove it from the fixture.
  expect(
    KNOWN.transformations.filter(
      (k) => !differences.some((d) => d.transformation === k.transformation && d.input === k.input),
    ),
  ).toEqual([]);
}, 30_000);

describe('rule verdicts, CRS 4.28.0 at PL1 (anomaly threshold 5)', () => {
  const compiled = compileCrsDirectory(CRS4_RULES);
  const engine = new CrsEngine(compiled, { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS });
  const scores = new Map(compiled.rules.map((r) => [r.id, r.score]));
  const knownFor = (c: Case) => KNOWN.verdicts.find((k) => k.corpus === c.corpus && k.value === c.label);

  function run(cases: Case[]) {
    const matches = runModSecurity(
      bin(),
      ruleFiles(CRS4_RULES),
      1,
      5,
      cases.map((c) => c.request),
    );
    const results = cases.map((c, i) => compareCase(c, matches[i]!, engine));
    const unexplained = results
      .map((r) => {
        const onlyModSecurity = r.modsec.filter((id) => !r.ours.includes(id));
        const onlyBulwark = r.ours.filter((id) => !r.modsec.includes(id));
        const k = knownFor(r.case);
        return { corpus: r.case.corpus, value: r.case.label, onlyModSecurity, onlyBulwark, known: k };
      })
      .filter((d) =>
        d.known === undefined
          ? d.onlyModSecurity.length + d.onlyBulwark.length > 0
          : JSON.stringify([d.onlyModSecurity, d.onlyBulwark]) !==
            JSON.stringify([d.known.onlyModSecurity, d.known.onlyBulwark]),
      )
      .map(({ known: _known, ...d }) => d);
    return { results, unexplained, tally: tally(results, (id) => scores.get(id) ?? 0, 5) };
  }

  test('english-text.txt: ModSecurity flags the same 33 of 3,044 sentences, with the same rule ids', () => {
    const { unexplained, tally: t } = run(englishCases());
    expect(unexplained).toEqual([]);
    // The English false-positive figure (detection.test.ts) is CRS PL1's own: ModSecurity's is the same.
    expect([t.modsecFlagged, t.oursFlagged]).toEqual([33, 33]);
  }, 60_000);

  // Payloads ModSecurity flagged and Bulwark did not before the chained-rule fix (933150, 941310 score in a chain's
  // last link), kept in the sample.
  const PINNED = [':phpversion();', '<div id="1"><form id="test"></form><button form="test" formaction='];

  test('attack payloads (every 8th of each list, pinned ones, the known differences) and 100 API requests', () => {
    const cases = [
      ...(['sqli', 'xss', 'traversal', 'cmdi', 'nosqli'] as const).flatMap((cat) =>
        attackCases(cat).filter(
          (c, i) => i % 8 === 0 || knownFor(c) !== undefined || PINNED.some((p) => c.label.startsWith(p)),
        ),
      ),
      ...apiCases(100),
    ];
    const { results, unexplained } = run(cases);
    expect(unexplained).toEqual([]);
    // Every known difference was in the sample and still differs as recorded (else the fixture is stale).
    for (const k of KNOWN.verdicts)
      expect(results.some((r) => r.case.corpus === k.corpus && r.case.label === k.value)).toBe(true);
    // The sample exercises many rules on both sides.
    expect(new Set(results.flatMap((r) => r.modsec)).size).toBeGreaterThan(40);
  }, 60_000);
});

// Kong passes a request's bytes as they came, UTF-8 or not (kong/runloop/plugin_servers/mp_rpc.lua packs Lua strings
// as str of their bytes); bulwark-pluginserver hands bytes that are not UTF-8 to the plugin as U+DC00 + byte
// (plugins/lib/kong-strings.ts), and the request model turns them back into those bytes. So the engine reads what
// ModSecurity reads: the same rule ids, on requests ModSecurity flags.
describe('requests whose bytes are not UTF-8, CRS 4.28.0 at PL1', () => {
  const compiled = compileCrsDirectory(CRS4_RULES);
  const engine = new CrsEngine(compiled, { paranoiaLevel: 1, detectors: LIBINJECTION_DETECTORS });
  // What the plugin receives for each header (U+DCxx: the byte xx), as the plugin server decodes it.
  const RAW: [string, Record<string, string[]>][] = [
    ['User-Agent: e0 then an unclosed script tag', { 'user-agent': ['\uDCE0<script>alert(1)'] }],
    ['Cookie: SQL with a0 (NBSP) as the spaces', { cookie: ['a=1\uDCA0OR\uDCA01=1'] }],
    [
      'Referer: UNION SELECT with a0 as the spaces',
      { referer: ['1\uDCA0UNION\uDCA0SELECT\uDCA0password\uDCA0FROM\uDCA0users'] },
    ],
  ];
  test.each(RAW)('%s: the engine matches the rule ids ModSecurity matches, and both flag it', (label, headers) => {
    const c = wholeRequest({
      corpus: 'raw-bytes',
      label,
      request: { method: 'GET', pathWithQuery: '/', headers },
      values: [],
    });
    const [matches] = runModSecurity(bin(), ruleFiles(CRS4_RULES), 1, 5, [c.request]);
    const r = compareCase(c, matches!, engine);
    expect(r.ours).toEqual(r.modsec);
    expect(r.modsec.length).toBeGreaterThan(0);
  });
});
