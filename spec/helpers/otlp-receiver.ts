// A local OTLP/HTTP receiver for tests (no real OpenTelemetry Collector runs in CI): it records every request
// (method, path, headers, body decoded from OTLP/JSON) and answers as the test says: 200 `{}` (the
// OTLP/JSON success answer), another status, or never (a slow receiver: the request is held until close()).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OtlpRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export type OtlpAnswer = number | 'hold';

export interface OtlpReceiver {
  readonly endpoint: string;
  readonly requests: OtlpRequest[];
  answer: (r: OtlpRequest) => OtlpAnswer;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const requests: OtlpRequest[] = [];
  const held: http.ServerResponse[] = [];
  const receiver = { requests, answer: (() => 200) as (r: OtlpRequest) => OtlpAnswer };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { unparsable: text.slice(0, 200) };
      }
      const r: OtlpRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      requests.push(r);
      const a = receiver.answer(r);
      if (a === 'hold') {
        held.push(res);
        return;
      }
      res.writeHead(a, { 'content-type': 'application/json' }).end(a === 200 ? '{}' : '{"code":3}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(receiver, {
    endpoint,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** OTLP/JSON AnyValue → a JavaScript value. */
export function anyValue(v: Json | undefined): unknown {
  if (v === undefined) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  return v;
}

/** OTLP/JSON KeyValue list → an object. */
export function attributes(list: Json[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv: Json) => [kv.key as string, anyValue(kv.value as Json)]));
}

/** Every log record of the /v1/logs requests received, with its resource and scope. */
export function logRecords(requests: readonly OtlpRequest[]) {
  const out: { resource: Record<string, unknown>; scope: Json; record: Json; attributes: Record<string, unknown> }[] =
    [];
  for (const r of requests.filter((q) => q.path === '/v1/logs'))
    for (const rl of (r.body.resourceLogs ?? []) as Json[])
      for (const sl of (rl.scopeLogs ?? []) as Json[])
        for (const record of (sl.logRecords ?? []) as Json[])
          out.push({
            resource: attributes(rl.resource?.attributes as Json[]),
            scope: sl.scope as Json,
            record,
            attributes: attributes(record.attributes as Json[]),
          });
  return out;
}

/** The metrics of one /v1/metrics request, by name. */
export function metricsByName(request: OtlpRequest): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const rm of (request.body.resourceMetrics ?? []) as Json[])
    for (const sm of (rm.scopeMetrics ?? []) as Json[])
      for (const m of (sm.metrics ?? []) as Json[]) out.set(m.name as string, m);
  return out;
}

/** The data point of a Sum or Gauge metric whose attributes include `match`, as a number. */
export function pointValue(metric: Json | undefined, match: Record<string, string>): number | undefined {
  const points = (metric?.sum?.dataPoints ?? metric?.gauge?.dataPoints ?? []) as Json[];
  const p = points.find((dp) => {
    const a = attributes(dp.attributes as Json[]);
    return Object.entries(match).every(([k, v]) => a[k] === v);
  });
  if (!p) return undefined;
  return p.asDouble !== undefined ? Number(p.asDouble) : Number(p.asInt);
}
