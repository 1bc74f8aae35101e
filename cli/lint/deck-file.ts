// Reads decK/Kong declarative files into the entities `bulwark lint` reasons about, keeping where each entity and
// field sits in its file (line and column from the `yaml` package's source ranges). Several files merge like
// `deck gateway sync a.yml b.yml`: entities from every file, references by name or id across files.
import * as fs from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';

export interface SourceLocation {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  endLine: number;
  endColumn: number;
}

export type EntityKind = 'service' | 'route' | 'consumer' | 'plugin';

export interface Entity {
  kind: EntityKind;
  /** name, else id, else the entity's place in its file (`services[0].routes[1]`). */
  key: string;
  name?: string;
  id?: string;
  tags: string[];
  /** The entity as plain data. */
  data: Record<string, unknown>;
  /** Where it is: its file, its place (`services[0].routes[1]`). */
  file: string;
  pointer: string;
  loc: SourceLocation;
  /** Location of a field of the entity (dotted path into it, e.g. `config.key_in_query`), else of the entity. */
  locate(path: string): SourceLocation;
}

export interface ServiceEntity extends Entity {
  kind: 'service';
  protocol: string;
}

export interface RouteEntity extends Entity {
  kind: 'route';
  /** Key of its service, if any. */
  service?: string;
  protocols: string[];
}

export interface PluginEntity extends Entity {
  kind: 'plugin';
  pluginName: string;
  enabled: boolean;
  config: Record<string, unknown>;
  service?: string;
  route?: string;
  consumer?: string;
}

export interface DeclarativeModel {
  files: string[];
  services: ServiceEntity[];
  routes: RouteEntity[];
  consumers: Entity[];
  plugins: PluginEntity[];
  /** Every string scalar of every file, for the secret scanner: its value, its key path and location. */
  strings: { value: string; path: string[]; file: string; loc: SourceLocation }[];
}

export class DeclarativeFileError extends Error {}

const asString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const asRecord = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
/** A reference (`service: name` or `service: {id: ...}` / `{name: ...}`) as the key it names. */
function refKey(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const r = asRecord(v);
  return asString(r.name) ?? asString(r.id);
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key) as Pair | undefined;
}

export function readDeclarativeFiles(files: string[]): DeclarativeModel {
  const model: DeclarativeModel = { files, services: [], routes: [], consumers: [], plugins: [], strings: [] };
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new DeclarativeFileError(`${file}: cannot read: ${(err as Error).message}`);
    }
    addFile(model, file, text);
  }
  return model;
}

export function addFile(model: DeclarativeModel, file: string, text: string): void {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) throw new DeclarativeFileError(`${file}: ${doc.errors[0]!.message}`);
  const root = doc.contents;
  if (!isMap(root)) throw new DeclarativeFileError(`${file}: not a declarative config (expected a mapping)`);

  const locOf = (node: Node | null | undefined, fallback: SourceLocation): SourceLocation => {
    const range = node?.range;
    if (!range) return fallback;
    const start = lines.linePos(range[0]);
    const end = lines.linePos(range[1]);
    return { file, line: start.line, column: start.col, endLine: end.line, endColumn: end.col };
  };
  const fileLoc: SourceLocation = { file, line: 1, column: 1, endLine: 1, endColumn: 1 };

  const entity = <K extends EntityKind>(kind: K, node: YAMLMap, pointer: string) => {
    const data = asRecord(node.toJSON());
    const name = asString(data.name);
    const id = asString(data.id);
    const keyNode = node.items[0]?.key as Node | undefined;
    const loc = locOf(keyNode ?? node, fileLoc);
    const tags = Array.isArray(data.tags) ? data.tags.filter((t): t is string => typeof t === 'string') : [];
    return {
      kind,
      key: name ?? id ?? `${file}#${pointer}`,
      name,
      id,
      tags,
      data,
      file,
      pointer,
      loc,
      locate(path: string): SourceLocation {
        let cur: unknown = node;
        let last: Node = node;
        for (const part of path.split('.')) {
          const pair = isMap(cur) ? pairOf(cur, part) : undefined;
          if (!pair) return loc; // not written (a default): the entity itself
          last = (pair.value as Node | null) ?? (pair.key as Node);
          cur = pair.value;
        }
        return locOf(last, loc);
      },
    };
  };

  const seqItems = (map: YAMLMap, key: string): YAMLMap[] => {
    const v = pairOf(map, key)?.value;
    return isSeq(v) ? v.items.filter((i): i is YAMLMap => isMap(i)) : [];
  };

  const addPlugin = (
    node: YAMLMap,
    pointer: string,
    scope: { service?: string; route?: string; consumer?: string },
  ) => {
    const e = entity('plugin', node, pointer);
    const d = e.data;
    model.plugins.push({
      ...e,
      key: asString(d.id) ?? `${asString(d.name) ?? '?'}@${scope.route ?? scope.service ?? scope.consumer ?? 'global'}`,
      pluginName: asString(d.name) ?? '',
      enabled: d.enabled !== false,
      config: asRecord(d.config),
      service: scope.service ?? refKey(d.service),
      route: scope.route ?? refKey(d.route),
      consumer: scope.consumer ?? refKey(d.consumer),
    });
  };

  const addRoute = (node: YAMLMap, pointer: string, service: string | undefined) => {
    const e = entity('route', node, pointer);
    const protocols = Array.isArray(e.data.protocols)
      ? e.data.protocols.filter((p): p is string => typeof p === 'string')
      : ['http', 'https']; // Kong's default (kong/db/schema/entities/routes.lua)
    model.routes.push({ ...e, service: service ?? refKey(e.data.service), protocols });
    seqItems(node, 'plugins').forEach((p, i) => addPlugin(p, `${pointer}.plugins[${i}]`, { route: e.key }));
  };

  seqItems(root, 'services').forEach((s, i) => {
    const pointer = `services[${i}]`;
    const e = entity('service', s, pointer);
    let protocol = asString(e.data.protocol) ?? 'http'; // Kong's default (kong/db/schema/entities/services.lua)
    const url = asString(e.data.url);
    if (url) {
      const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
      if (m) protocol = m[1]!.toLowerCase();
    }
    model.services.push({ ...e, protocol });
    seqItems(s, 'routes').forEach((r, j) => addRoute(r, `${pointer}.routes[${j}]`, e.key));
    seqItems(s, 'plugins').forEach((p, j) => addPlugin(p, `${pointer}.plugins[${j}]`, { service: e.key }));
  });
  seqItems(root, 'routes').forEach((r, i) => addRoute(r, `routes[${i}]`, undefined));
  seqItems(root, 'consumers').forEach((c, i) => {
    const pointer = `consumers[${i}]`;
    const e = entity('consumer', c, pointer);
    e.key = asString(e.data.username) ?? asString(e.data.custom_id) ?? e.key;
    model.consumers.push(e);
    seqItems(c, 'plugins').forEach((p, j) => addPlugin(p, `${pointer}.plugins[${j}]`, { consumer: e.key }));
  });
  seqItems(root, 'plugins').forEach((p, i) => addPlugin(p, `plugins[${i}]`, {}));

  // Every string scalar with its key path, for the secret scanner.
  const walk = (node: unknown, path: string[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '?';
        walk(pair.value, [...path, k]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, String(i)]));
    } else if (isScalar(node) && typeof node.value === 'string') {
      model.strings.push({ value: node.value, path, file, loc: locOf(node, fileLoc) });
    }
  };
  walk(root, []);
}
