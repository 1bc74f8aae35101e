// `bulwark inventory`: what the gateway serves against what the OpenAPI documents say. Inputs: the declarative
// files (the OpenAPI documents bulwark-validator is configured with, as `bulwark validate` reads them) and observed
// traffic as JSON-lines SecurityEvents (plugins/lib/security-event.ts: `http`, `operation`, `identity`, `status`).
// Classes (the report's glossary says the same):
//   shadow     traffic that matched no documented operation (event `operation: null`), grouped by a templated path;
//   zombie     traffic to an operation marked `deprecated`, past its `x-sunset`, or no longer in the current document;
//   orphan     a documented operation with no traffic in the window;
//   documented the rest: documented operations with traffic.
import { ConfigError } from '../../plugins/lib/config';
import { parseSpecText, readSpecFile } from '../../plugins/bulwark-validator/spec-source';
import { createHash } from 'node:crypto';
import type { DeclarativeModel, SourceLocation } from '../lint/deck-file';
import { renderSarifLog, type SarifRule } from '../lint/sarif';

export type InventoryClass = 'shadow' | 'zombie' | 'orphan' | 'documented';

export interface DocumentedOperation {
  host: string;
  method: string;
  pathTemplate: string;
  operationId?: string;
  deprecated: boolean;
  /** x-sunset (RFC 8594 date) as epoch ms. */
  sunset?: number;
  /** Where the document is configured (the validator entry's `config.openapi`), for SARIF locations. */
  source: SourceLocation;
}

export interface InventoryRow {
  class: InventoryClass;
  host: string;
  method: string;
  path_template: string;
  operation_id: string | null;
  first_seen: string | null;
  last_seen: string | null;
  count: number;
  distinct_consumers: number;
  authentication: string[];
  status: Record<string, number>;
  /** Why the row has its class (zombie: deprecated / sunset / removed). */
  reason: string;
}

export interface InventoryReport {
  window: { from: string | null; to: string | null };
  totals: Record<InventoryClass, number> & { events: number; requests: number; unclassified_requests: number };
  rows: InventoryRow[];
}

export class InventoryInputError extends Error {}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MAX_LINE = 64 * 1024;

/**
 * The documented operations of every bulwark-validator OpenAPI document in the model: inline `openapi.spec`, or
 * `openapi.spec_file` read from this machine as `bulwark validate` reads it (a relative path from the current
 * directory, the plugin server's working directory in production). Both go through the validator's own reader
 * (size caps, bounded YAML aliases, duplicate keys refused).
 */
export function documentedOperations(model: DeclarativeModel): DocumentedOperation[] {
  const ops: DocumentedOperation[] = [];
  for (const p of model.plugins) {
    if (p.pluginName !== 'bulwark-validator' || !p.enabled) continue;
    const openapi = p.config.openapi as { spec?: unknown; spec_file?: unknown } | undefined;
    let doc: { paths?: Record<string, Record<string, unknown>> };
    try {
      if (typeof openapi?.spec === 'string') doc = parseSpecText(openapi.spec, 'openapi.spec') as typeof doc;
      else if (typeof openapi?.spec_file === 'string')
        doc = readSpecFile(openapi.spec_file, 'openapi.spec_file') as typeof doc;
      else continue;
    } catch (err) {
      const why = err instanceof ConfigError ? `${err.field}: ${err.reason}` : (err as Error).message;
      throw new InventoryInputError(`${p.file} ${p.pointer}: OpenAPI document unusable: ${why}`);
    }
    if (doc === null || typeof doc !== 'object') {
      throw new InventoryInputError(`${p.file} ${p.pointer}: OpenAPI document is not an object`);
    }
    const at = p.locate('config.openapi');
    const source = { ...at, endLine: at.line, endColumn: at.column + 1 };
    const route = model.routes.find((r) => r.key === p.route);
    const hosts =
      Array.isArray(route?.data.hosts) && route.data.hosts.length > 0 ? route.data.hosts.map(String) : ['*'];
    for (const [template, item] of Object.entries(doc.paths ?? {})) {
      for (const method of METHODS) {
        const op = item?.[method] as Record<string, unknown> | undefined;
        if (!op || typeof op !== 'object') continue;
        const sunset = typeof op['x-sunset'] === 'string' ? Date.parse(op['x-sunset']) : NaN;
        for (const host of hosts)
          ops.push({
            host,
            method: method.toUpperCase(),
            pathTemplate: template,
            ...(typeof op.operationId === 'string' ? { operationId: op.operationId } : {}),
            deprecated: op.deprecated === true,
            ...(Number.isNaN(sunset) ? {} : { sunset }),
            source,
          });
      }
    }
  }
  return ops;
}

/**
 * A raw path as a template: segments that look like identifiers become `{id}` (numbers, UUIDs, long hex, long
 * mixed tokens), so shadow traffic groups by endpoint and no raw id reaches the report.
 */
export function templatePath(path: string): string {
  return path
    .split('/')
    .map((seg) => {
      if (seg === '') return seg;
      if (/^\d+$/.test(seg)) return '{id}';
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(seg)) return '{id}';
      if (/^[0-9a-f]{8,}$/i.test(seg) && /\d/.test(seg)) return '{id}';
      if (seg.length >= 16 && /\d/.test(seg) && /^[A-Za-z0-9_~.-]+$/.test(seg)) return '{id}';
      if (/@/.test(seg)) return '{id}';
      return seg;
    })
    .join('/');
}

interface EventLike {
  timestamp?: string;
  request_id?: string;
  status?: number;
  http?: { method?: string; host?: string; path?: string };
  operation?: { id?: string; path_template?: string; deprecated?: boolean } | null;
  identity?: { consumer?: string; credential_kind?: string; subject?: string };
}

interface Acc {
  host: string;
  method: string;
  template: string;
  operationId?: string;
  first: number;
  last: number;
  count: number;
  consumers: Set<string>;
  auth: Set<string>;
  status: Map<string, number>;
  eventDeprecated: boolean;
}

/** Parses JSON-lines events; a line that is not a JSON object is an input error naming the line. */
export function parseEvents(text: string, source: string): EventLike[] {
  const out: EventLike[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    if (line.length > MAX_LINE) throw new InventoryInputError(`${source}:${i + 1}: line longer than ${MAX_LINE} bytes`);
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new InventoryInputError(`${source}:${i + 1}: not JSON`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw new InventoryInputError(`${source}:${i + 1}: not a JSON object`);
    out.push(v as EventLike);
  });
  return out;
}

export function buildInventory(
  ops: DocumentedOperation[],
  events: EventLike[],
  opts: { now: number; since?: number; until?: number },
): InventoryReport {
  // Several plugins record one event each per request: one request counts once, with the most informative
  // operation (the validator's: present beats absent) and identity.
  const requests = new Map<string, EventLike>();
  let counted = 0;
  for (const e of events) {
    const t = Date.parse(e.timestamp ?? '');
    if (Number.isNaN(t) || !e.http?.method || !e.http.path) continue;
    if ((opts.since !== undefined && t < opts.since) || (opts.until !== undefined && t > opts.until)) continue;
    counted++;
    const id = e.request_id ?? `#${counted}`;
    const prev = requests.get(id);
    if (!prev) requests.set(id, { ...e });
    else {
      if (prev.operation === undefined && e.operation !== undefined) prev.operation = e.operation;
      if (!prev.identity?.consumer && !prev.identity?.subject && e.identity) prev.identity = e.identity;
      if (typeof e.status === 'number' && (prev.status === undefined || e.status >= 400)) prev.status = e.status;
    }
  }

  const matchOp = (host: string, method: string, template: string) =>
    ops.find((o) => o.method === method && o.pathTemplate === template && (o.host === '*' || o.host === host));
  const acc = new Map<string, Acc>();
  let unclassified = 0;
  for (const e of requests.values()) {
    if (e.operation === undefined) {
      unclassified++;
      continue;
    }
    const method = e.http!.method!.toUpperCase();
    const host = (e.http!.host ?? '').toLowerCase();
    const template =
      e.operation === null ? templatePath(e.http!.path!) : (e.operation.path_template ?? templatePath(e.http!.path!));
    const documented = e.operation === null ? undefined : matchOp(host, method, template);
    const keyHost = documented?.host ?? host;
    const key = `${e.operation === null ? 'shadow' : 'op'}\u0000${keyHost}\u0000${method}\u0000${template}`;
    const t = Date.parse(e.timestamp!);
    let a = acc.get(key);
    if (!a) {
      a = {
        host: keyHost,
        method,
        template,
        ...((documented?.operationId ?? e.operation?.id)
          ? { operationId: documented?.operationId ?? e.operation!.id! }
          : {}),
        first: t,
        last: t,
        count: 0,
        consumers: new Set(),
        auth: new Set(),
        status: new Map(),
        eventDeprecated: false,
      };
      acc.set(key, a);
    }
    a.count++;
    a.first = Math.min(a.first, t);
    a.last = Math.max(a.last, t);
    const who = e.identity?.consumer ?? e.identity?.subject;
    if (who) a.consumers.add(who);
    a.auth.add(e.identity?.credential_kind ?? 'none');
    if (typeof e.status === 'number') {
      const bucket = `${Math.floor(e.status / 100)}xx`;
      a.status.set(bucket, (a.status.get(bucket) ?? 0) + 1);
    }
    if (e.operation?.deprecated) a.eventDeprecated = true;
  }

  const iso = (t: number) => new Date(t).toISOString();
  const rows: InventoryRow[] = [];
  const seen = new Set<DocumentedOperation>();
  for (const [key, a] of acc) {
    let cls: InventoryClass;
    let reason: string;
    if (key.startsWith('shadow')) {
      cls = 'shadow';
      reason = 'matches no documented operation';
    } else {
      const op = matchOp(a.host, a.method, a.template);
      if (op) seen.add(op);
      if (!op) [cls, reason] = ['zombie', 'not in the current OpenAPI document (removed)'];
      else if (op.sunset !== undefined && op.sunset <= opts.now)
        [cls, reason] = ['zombie', `past its x-sunset (${iso(op.sunset)})`];
      else if (op.deprecated || a.eventDeprecated) [cls, reason] = ['zombie', 'deprecated'];
      else [cls, reason] = ['documented', 'documented and in use'];
    }
    rows.push({
      class: cls,
      host: a.host,
      method: a.method,
      path_template: a.template,
      operation_id: a.operationId ?? null,
      first_seen: iso(a.first),
      last_seen: iso(a.last),
      count: a.count,
      distinct_consumers: a.consumers.size,
      authentication: [...a.auth].sort(),
      status: Object.fromEntries([...a.status].sort()),
      reason,
    });
  }
  for (const op of ops) {
    if (seen.has(op)) continue;
    rows.push({
      class: 'orphan',
      host: op.host,
      method: op.method,
      path_template: op.pathTemplate,
      operation_id: op.operationId ?? null,
      first_seen: null,
      last_seen: null,
      count: 0,
      distinct_consumers: 0,
      authentication: [],
      status: {},
      reason: op.deprecated
        ? 'documented (deprecated), no traffic in the window'
        : 'documented, no traffic in the window',
    });
  }
  const order: InventoryClass[] = ['shadow', 'zombie', 'orphan', 'documented'];
  rows.sort(
    (x, y) =>
      order.indexOf(x.class) - order.indexOf(y.class) ||
      x.host.localeCompare(y.host) ||
      x.path_template.localeCompare(y.path_template) ||
      x.method.localeCompare(y.method),
  );
  const times = [...requests.values()].map((e) => Date.parse(e.timestamp!));
  const count = (c: InventoryClass) => rows.filter((r) => r.class === c).length;
  return {
    window: {
      from: opts.since !== undefined ? iso(opts.since) : times.length ? iso(Math.min(...times)) : null,
      to: opts.until !== undefined ? iso(opts.until) : times.length ? iso(Math.max(...times)) : null,
    },
    totals: {
      shadow: count('shadow'),
      zombie: count('zombie'),
      orphan: count('orphan'),
      documented: count('documented'),
      events: counted,
      requests: requests.size,
      unclassified_requests: unclassified,
    },
    rows,
  };
}

export const GLOSSARY: Record<InventoryClass, string> = {
  shadow:
    'traffic that matched no operation of any OpenAPI document (the validator resolved "no operation"); grouped by a templated path (identifier-like segments become {id}), never raw paths',
  zombie:
    'traffic to an operation marked deprecated, past its x-sunset date, or no longer in the current OpenAPI document',
  orphan: 'an operation documented in the current OpenAPI document that received no traffic in the window',
  documented: 'a documented, current operation that received traffic in the window',
};

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderMarkdown(r: InventoryReport): string {
  const lines = [
    '# API inventory',
    '',
    `Window: ${r.window.from ?? '-'} to ${r.window.to ?? '-'}; ${r.totals.requests} request(s) from ${r.totals.events} event(s)` +
      (r.totals.unclassified_requests
        ? `; ${r.totals.unclassified_requests} request(s) on routes without bulwark-validator (no operation known) left out`
        : ''),
    '',
    `| class | operations |`,
    `|---|---|`,
    ...(['shadow', 'zombie', 'orphan', 'documented'] as InventoryClass[]).map((c) => `| ${c} | ${r.totals[c]} |`),
    '',
    '| class | host | method | path template | operationId | first seen | last seen | count | consumers | authentication | status | why |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...r.rows.map(
      (x) =>
        `| ${x.class} | ${cell(x.host)} | ${x.method} | \`${cell(x.path_template)}\` | ${cell(x.operation_id ?? '-')} | ${x.first_seen ?? '-'} | ${x.last_seen ?? '-'} | ${x.count} | ${x.distinct_consumers} | ${x.authentication.join(', ') || '-'} | ${
          Object.entries(x.status)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ') || '-'
        } | ${cell(x.reason)} |`,
    ),
    '',
    '## Glossary',
    '',
    ...(['shadow', 'zombie', 'orphan', 'documented'] as InventoryClass[]).map((c) => `- **${c}**: ${GLOSSARY[c]}.`),
    '',
  ];
  return `${lines.join('\n')}`;
}

export function renderJson(r: InventoryReport): string {
  return `${JSON.stringify({ ...r, glossary: GLOSSARY }, null, 2)}\n`;
}

/** The SARIF catalog of `bulwark inventory --format sarif`: one rule per class that needs attention. */
export const INVENTORY_RULES: readonly (SarifRule & { class: InventoryClass })[] = [
  {
    id: 'BWI001',
    name: 'ShadowOperation',
    class: 'shadow',
    severity: 'high',
    summary: 'Traffic to an operation that no OpenAPI document describes (shadow API).',
    help:
      'The gateway served requests that matched no operation of the OpenAPI document bulwark-validator is ' +
      'configured with (its fallthrough action let them through). Nobody reviews, tests or authorizes what is not ' +
      'documented (OWASP API9:2023 Improper Inventory Management). Document the operation, or shut it: ' +
      "bulwark-validator's `openapi.unknown_operations: reject`.",
  },
  {
    id: 'BWI002',
    name: 'ZombieOperation',
    class: 'zombie',
    severity: 'medium',
    summary: 'Traffic to an operation that is deprecated, past its x-sunset, or removed from the document.',
    help:
      'Clients still call an operation its owners retired: marked `deprecated`, past its `x-sunset` date, or no ' +
      'longer in the current document. Retired code paths stop receiving fixes. Move the clients (the Deprecation ' +
      "and Sunset headers of bulwark-validator's `openapi.deprecation_headers` tell them), then remove the route.",
  },
  {
    id: 'BWI003',
    name: 'OrphanOperation',
    class: 'orphan',
    severity: 'low',
    summary: 'A documented operation that received no traffic in the window.',
    help:
      'The document describes an operation nobody called in the observed window. Unused operations are attack ' +
      'surface without a user: confirm with a longer window, then remove it from the document and the upstream.',
  },
];

/**
 * SARIF 2.1.0: a result per shadow, zombie and orphan row, located at the `config.openapi` of the validator entry
 * that holds the document (shadow rows: a document served on the same host, else the first one, else the first
 * config file), fingerprinted by class, host, method and path template.
 */
export function renderSarif(
  r: InventoryReport,
  ops: readonly DocumentedOperation[],
  opts: { version: string; configFile: string; baseDir?: string },
): string {
  const fallback: SourceLocation = { file: opts.configFile, line: 1, column: 1, endLine: 1, endColumn: 2 };
  const locate = (row: InventoryRow): SourceLocation =>
    (
      ops.find((o) => o.host === row.host && o.method === row.method && o.pathTemplate === row.path_template) ??
      ops.find((o) => o.host === row.host || o.host === '*') ??
      ops[0]
    )?.source ?? fallback;
  const results = r.rows.flatMap((row) => {
    const rule = INVENTORY_RULES.find((x) => x.class === row.class);
    if (!rule) return [];
    const op = row.operation_id ? ` (${row.operation_id})` : '';
    const seen = row.count > 0 ? `: ${row.count} request(s), ${row.first_seen} to ${row.last_seen}` : '';
    return [
      {
        ruleId: rule.id,
        severity: rule.severity,
        message: `${row.class} operation ${row.method} ${row.host}${row.path_template}${op}${seen}; ${row.reason}`,
        location: locate(row),
        fingerprint: createHash('sha256')
          .update([row.class, row.host, row.method, row.path_template].join('\u0000'))
          .digest('hex')
          .slice(0, 32),
      },
    ];
  });
  return renderSarifLog({
    tool: 'bulwark-inventory',
    version: opts.version,
    rules: INVENTORY_RULES.map(({ class: _class, ...rule }) => rule),
    results,
    fingerprintKey: 'bulwarkOperationIdentity/v1',
    tags: ['security', 'api-inventory'],
    ...(opts.baseDir !== undefined ? { baseDir: opts.baseDir } : {}),
  });
}
