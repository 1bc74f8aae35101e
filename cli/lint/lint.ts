// `bulwark lint`: runs the ruleset (rules.ts) over declarative files and renders text, JSON or SARIF 2.1.0.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { processPluginConfig } from '../../kong/schema/config';
import type { PluginInfo } from '../../kong/schema/plugin-info';
import type { FieldEntry } from '../../kong/schema/types';
import type { Painter } from '../output';
import {
  readDeclarativeFiles,
  type DeclarativeModel,
  type Entity,
  type PluginEntity,
  type RouteEntity,
} from './deck-file';
import { IGNORE_TAG, KONG_DEFAULTS, RULES, severityRank, type Finding, type LintContext, type Severity } from './rules';

export interface LintOptions {
  /** Dumped schemas of the Bulwark plugins (their defaults are filled before the rules look). */
  infos?: Map<string, PluginInfo>;
  /** kong.conf text (--kong-conf): tells whether bulwark-guard is loaded. */
  kongConf?: string;
}

/** Does a kong.conf load bulwark-guard? (`plugins = bundled,bulwark-guard,…`; the last `plugins` line wins.) */
export function kongConfLoadsGuard(text: string): boolean {
  let plugins = '';
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*plugins\s*=\s*(.*?)\s*(?:#.*)?$/.exec(line);
    if (m) plugins = m[1]!;
  }
  return plugins.split(',').some((p) => p.trim() === 'bulwark-guard');
}

export function lintModel(model: DeclarativeModel, opts: LintOptions = {}): Finding[] {
  const configs = new Map<PluginEntity, Record<string, unknown>>();
  const config = (p: PluginEntity): Record<string, unknown> => {
    let c = configs.get(p);
    if (c) return c;
    c = { ...(KONG_DEFAULTS[p.pluginName] ?? {}), ...p.config };
    const info = opts.infos?.get(p.pluginName);
    if (info) {
      const fields: FieldEntry[] = info.Schema.fields[0]?.config?.fields ?? [];
      const res = processPluginConfig(fields, p.config);
      // An invalid config is `bulwark validate`'s finding; the rules then see what is written.
      if (res.ok) c = res.config as Record<string, unknown>;
    }
    configs.set(p, c);
    return c;
  };
  const matches = (ref: string | undefined, e: Entity | undefined) =>
    ref !== undefined && e !== undefined && (ref === e.name || ref === e.id || ref === e.key);
  const effective = (route: RouteEntity): Map<string, PluginEntity> => {
    const service = model.services.find((s) => s.key === route.service || matches(route.service, s));
    const byName = new Map<string, { p: PluginEntity; rank: number }>();
    for (const p of model.plugins) {
      if (!p.enabled || p.consumer !== undefined) continue;
      const rank = p.route
        ? matches(p.route, route)
          ? 2
          : -1
        : p.service
          ? matches(p.service, service)
            ? 1
            : -1
          : 0;
      if (rank < 0) continue;
      const cur = byName.get(p.pluginName);
      if (!cur || rank > cur.rank) byName.set(p.pluginName, { p, rank });
    }
    return new Map([...byName].map(([n, v]) => [n, v.p]));
  };
  const ctx: LintContext = {
    model,
    config,
    effective,
    ...(opts.kongConf !== undefined ? { guardLoaded: kongConfLoadsGuard(opts.kongConf) } : {}),
  };
  const ignored = (f: Finding): boolean => {
    const all: Entity[] = [...model.routes, ...model.services, ...model.plugins, ...model.consumers];
    const e = all.find((x) => f.identity.startsWith(`${x.kind}:${x.key}`) && x.file === f.location.file);
    return e !== undefined && e.tags.includes(`${IGNORE_TAG}${f.ruleId}`);
  };
  return RULES.flatMap((r) => r.check(ctx))
    .filter((f) => !ignored(f))
    .sort(
      (a, b) =>
        a.location.file.localeCompare(b.location.file) ||
        a.location.line - b.location.line ||
        a.location.column - b.location.column ||
        a.ruleId.localeCompare(b.ruleId),
    );
}

export function lintFiles(files: string[], opts: LintOptions = {}): Finding[] {
  return lintModel(readDeclarativeFiles(files), opts);
}

export const failsAt = (findings: Finding[], failOn: Severity | 'none'): boolean =>
  failOn !== 'none' && findings.some((f) => severityRank(f.severity) >= severityRank(failOn));

export function renderText(findings: Finding[], paint: Painter, cwd = process.cwd()): string {
  const colour = (s: Severity) =>
    s === 'critical' || s === 'high' ? paint.red : s === 'medium' ? paint.yellow : paint.dim;
  const lines = findings.map(
    (f) =>
      `${path.relative(cwd, f.location.file) || f.location.file}:${f.location.line}:${f.location.column}  ` +
      `${colour(f.severity)(f.severity.padEnd(8))} ${paint.bold(f.ruleId)}  ${f.message}`,
  );
  const counts = (['critical', 'high', 'medium', 'low'] as Severity[])
    .map((s) => `${findings.filter((f) => f.severity === s).length} ${s}`)
    .join(', ');
  lines.push(findings.length === 0 ? paint.green('no findings') : `${findings.length} finding(s): ${counts}`);
  return `${lines.join('\n')}\n`;
}

export function renderJson(findings: Finding[]): string {
  return `${JSON.stringify(
    {
      findings: findings.map((f) => ({
        rule_id: f.ruleId,
        severity: f.severity,
        message: f.message,
        file: f.location.file,
        line: f.location.line,
        column: f.location.column,
        end_line: f.location.endLine,
        end_column: f.location.endColumn,
        fingerprint: fingerprint(f),
      })),
    },
    null,
    2,
  )}\n`;
}

/** Stable across runs and edits elsewhere in the file: the rule and what the finding is about, not its line. */
export const fingerprint = (f: Finding): string =>
  createHash('sha256').update(`${f.ruleId}\u0000${f.identity}`).digest('hex').slice(0, 32);
