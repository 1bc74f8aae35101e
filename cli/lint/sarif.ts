// SARIF 2.1.0 (OASIS) output of `bulwark lint` (and `bulwark inventory`), as GitHub code scanning reads it: a rules catalog with help and
// `security-severity`, file/line/column regions, partialFingerprints from entity identity, never an empty message.
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fingerprint } from './lint';
import type { SourceLocation } from './deck-file';
import { RULES, type Finding, type Severity } from './rules';

/** GitHub maps security-severity > 9 critical, ≥ 7 high, ≥ 4 medium, else low. */
export const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0' };
const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
};

/** A rule of a SARIF catalog (`bulwark lint`'s rules, `bulwark inventory`'s classes). */
export interface SarifRule {
  id: string;
  name: string;
  severity: Severity;
  summary: string;
  help: string;
}

export interface SarifResult {
  ruleId: string;
  severity: Severity;
  message: string;
  location: SourceLocation;
  /** Stable identity hash (what code scanning tracks a result by across runs). */
  fingerprint: string;
}

/** One SARIF 2.1.0 log: one run of `tool` with its rules catalog and results. */
export function renderSarifLog(opts: {
  tool: string;
  version: string;
  rules: readonly SarifRule[];
  results: readonly SarifResult[];
  /** partialFingerprints key, versioned (`bulwarkEntityIdentity/v1`). */
  fingerprintKey: string;
  tags: string[];
  baseDir?: string;
}): string {
  const base = opts.baseDir ?? process.cwd();
  const ruleIndex = new Map(opts.rules.map((r, i) => [r.id, i]));
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: opts.tool,
            semanticVersion: opts.version,
            version: opts.version,
            rules: opts.rules.map((r) => ({
              id: r.id,
              name: r.name,
              shortDescription: { text: r.summary },
              fullDescription: { text: r.help },
              help: { text: r.help, markdown: `**${r.id} ${r.name}** (${r.severity})\n\n${r.help}` },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: {
                'security-severity': SECURITY_SEVERITY[r.severity],
                tags: opts.tags,
                precision: 'high',
              },
            })),
          },
        },
        originalUriBaseIds: { SRCROOT: { uri: pathToFileURL(base + path.sep).href } },
        results: opts.results.map((f) => ({
          ruleId: f.ruleId,
          ruleIndex: ruleIndex.get(f.ruleId)!,
          level: LEVEL[f.severity],
          message: { text: f.message.trim() === '' ? `${f.ruleId} finding` : f.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: artifact(f.location.file, base),
                region: {
                  startLine: f.location.line,
                  startColumn: f.location.column,
                  endLine: Math.max(f.location.endLine, f.location.line),
                  endColumn:
                    f.location.endLine > f.location.line
                      ? f.location.endColumn
                      : Math.max(f.location.endColumn, f.location.column + 1),
                },
              },
            },
          ],
          partialFingerprints: { [opts.fingerprintKey]: f.fingerprint },
          properties: { 'security-severity': SECURITY_SEVERITY[f.severity], severity: f.severity },
        })),
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

export function renderSarif(findings: Finding[], opts: { version: string; baseDir?: string }): string {
  return renderSarifLog({
    tool: 'bulwark-lint',
    version: opts.version,
    rules: RULES,
    results: findings.map((f) => ({ ...f, fingerprint: fingerprint(f) })),
    fingerprintKey: 'bulwarkEntityIdentity/v1',
    tags: ['security', 'kong'],
    ...(opts.baseDir !== undefined ? { baseDir: opts.baseDir } : {}),
  });
}

/** A file inside the base directory is given relative to SRCROOT (what code scanning maps to the repository). */
function artifact(file: string, base: string): { uri: string; uriBaseId?: string } {
  const rel = path.relative(base, file);
  if (!rel.startsWith('..') && !path.isAbsolute(rel))
    return { uri: rel.split(path.sep).map(encodeURIComponent).join('/'), uriBaseId: 'SRCROOT' };
  return { uri: pathToFileURL(file).href };
}
