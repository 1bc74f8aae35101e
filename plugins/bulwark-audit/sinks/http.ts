// HTTP batch sinks: Splunk HTTP Event Collector and Elasticsearch `_bulk`. One POST per batch with node:http(s)
// (asynchronous, bounded by a timeout); a 2xx acknowledges the batch, 429/5xx and network errors are retried by the
// queue, other statuses drop the batch (retrying cannot help: PermanentSinkError).
import * as http from 'node:http';
import * as https from 'node:https';
import type { SecurityEvent } from '../../lib/security-event';
import { formatEvent, toEcs, type EventFormat } from '../mappings';
import { PermanentSinkError, type Transport } from './queue';

const REQUEST_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 1 << 20;

export interface HttpSendResult {
  status: number;
  body: string;
}

/** One POST; resolves with the status and (bounded) body; rejects on network errors and timeouts. */
export function post(
  url: URL,
  body: string,
  headers: Record<string, string>,
  tls?: { ca?: string; rejectUnauthorized?: boolean },
): Promise<HttpSendResult> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        timeout: REQUEST_TIMEOUT_MS,
        ...(url.protocol === 'https:' ? { ca: tls?.ca, rejectUnauthorized: tls?.rejectUnauthorized ?? true } : {}),
      },
      (res) => {
        let size = 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function checkStatus(sink: string, r: HttpSendResult): void {
  if (r.status >= 200 && r.status < 300) return;
  const detail = `${sink}: HTTP ${r.status} ${r.body.slice(0, 200)}`;
  if (r.status === 429 || r.status >= 500 || r.status === 408) throw new Error(detail);
  throw new PermanentSinkError(detail);
}

export interface SplunkConfig {
  url: string;
  token: string;
  index?: string;
  sourcetype: string;
  source: string;
  tlsVerify: boolean;
  format: EventFormat;
}

/** Splunk HEC wire format: concatenated JSON objects, one per event (`/services/collector/event`). */
export function splunkBody(events: readonly SecurityEvent[], conf: Omit<SplunkConfig, 'url' | 'token' | 'tlsVerify'>) {
  let text = '';
  for (const e of events) {
    const wrapped: Record<string, unknown> = {
      time: Date.parse(e.timestamp) / 1000,
      host: e.http.host,
      source: conf.source,
      sourcetype: conf.sourcetype,
      event: formatEvent(e, conf.format),
    };
    if (conf.index !== undefined) wrapped.index = conf.index;
    text += JSON.stringify(wrapped);
  }
  return text;
}

export function splunkTransport(conf: SplunkConfig): Transport<SecurityEvent> {
  const url = new URL(conf.url.replace(/\/+$/, '') + '/services/collector/event');
  return {
    async send(batch) {
      const r = await post(
        url,
        splunkBody(batch, conf),
        { Authorization: `Splunk ${conf.token}`, 'Content-Type': 'application/json' },
        { rejectUnauthorized: conf.tlsVerify },
      );
      checkStatus('splunk', r);
    },
  };
}

export interface ElasticsearchConfig {
  url: string;
  /** The index name prefix; the event's UTC date is appended: `<prefix>-YYYY.MM.DD`. */
  indexPrefix: string;
  username?: string;
  password?: string;
  apiKey?: string;
  tlsVerify: boolean;
}

/** The dated index of an event (`bulwark-security-2026.01.02`). */
export function elasticIndex(prefix: string, timestamp: string): string {
  return `${prefix}-${timestamp.slice(0, 10).replace(/-/g, '.')}`;
}

/** Elasticsearch `_bulk` NDJSON: a `create` action line and an ECS document per event, newline-terminated. */
export function elasticBulkBody(events: readonly SecurityEvent[], indexPrefix: string): string {
  let text = '';
  for (const e of events) {
    text += `${JSON.stringify({ create: { _index: elasticIndex(indexPrefix, e.timestamp) } })}\n`;
    text += `${JSON.stringify(toEcs(e))}\n`;
  }
  return text;
}

export function elasticsearchTransport(conf: ElasticsearchConfig): Transport<SecurityEvent> {
  const url = new URL(conf.url.replace(/\/+$/, '') + '/_bulk');
  const headers: Record<string, string> = { 'Content-Type': 'application/x-ndjson' };
  if (conf.apiKey !== undefined) headers.Authorization = `ApiKey ${conf.apiKey}`;
  else if (conf.username !== undefined)
    headers.Authorization = `Basic ${Buffer.from(`${conf.username}:${conf.password ?? ''}`).toString('base64')}`;
  return {
    async send(batch) {
      const r = await post(url, elasticBulkBody(batch, conf.indexPrefix), headers, {
        rejectUnauthorized: conf.tlsVerify,
      });
      checkStatus('elasticsearch', r);
      // _bulk answers 200 even when items failed: retry only when some failed for a retryable reason.
      let parsed: { errors?: boolean; items?: { create?: { status?: number } }[] } = {};
      try {
        parsed = JSON.parse(r.body) as typeof parsed;
      } catch {
        return;
      }
      if (parsed.errors === true) {
        const statuses = (parsed.items ?? []).map((i) => i.create?.status ?? 0);
        if (statuses.some((s) => s === 429 || s >= 500)) throw new Error('elasticsearch: some bulk items failed');
        throw new PermanentSinkError(`elasticsearch: bulk items refused (${statuses.join(',')})`);
      }
    },
  };
}
