// Proxying to the service as Kong's nginx does (kong/runloop/handler.lua access.after + the proxy_* directives
// of kong/templates/nginx_kong.lua): request changes from plugins applied, X-Forwarded-* and X-Real-IP set,
// hop-by-hop headers dropped, Kong's 502/504 on upstream failures.
//
// Two ways to read the response, as Kong 3.9 has them (kong/init.lua):
// - `streaming` (`location /`, proxy_pass): the client gets the status and headers when the upstream has sent
//   them and the body chunk by chunk as it arrives. Kong's default unless a plugin forces buffering.
// - `buffered` (Kong.response(), init.lua 1482-1565: ngx.location.capture("/kong_buffered_http")): the whole
//   upstream response is read into memory before any `response` handler runs and before anything is sent.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Service } from './entities';
import type { RouteMatch } from './router';
import { HeaderMap, RequestContext, UpstreamResponse } from './request-context';
import { errorBody } from './pdk';
import type { RequestReport } from './kong';
import { kongStringByteString, kongStringFromByteString } from '../../plugins/lib/kong-strings';

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
];

export type ResponseReading = 'streaming' | 'buffered';

/**
 * handler.lua access.after (3.9.3 lines 1330-1337): `$upstream_upgrade` is "websocket" when the client's Upgrade
 * header says websocket (case-insensitive), else empty; nginx_kong.lua sends it as the upstream's Upgrade header
 * with `Connection: keep-alive, Upgrade`. A non-empty `$upstream_upgrade` also turns buffered proxying off
 * (init.lua 1243-1256).
 */
export function upstreamUpgrade(ctx: RequestContext): string {
  const upgrade = ctx.requestHeaders.first('upgrade');
  return upgrade !== undefined && upgrade.toLowerCase() === 'websocket' ? 'websocket' : '';
}

export async function forwardToUpstream(
  ctx: RequestContext,
  match: RouteMatch,
  service: Service,
  report: RequestReport,
  aliases: Record<string, { host: string; port: number }> = {},
  reading: ResponseReading = 'buffered',
): Promise<UpstreamResponse> {
  const sr = ctx.serviceRequest;
  const req = ctx.request;
  const scheme = sr.scheme ?? service.protocol;
  const host = sr.target?.host ?? sr.upstreamHost ?? service.host;
  const port = sr.target?.port ?? service.port;
  const path = sr.path ?? match.upstreamPath;
  const query = sr.rawQuery ?? req.rawQuery;
  const headers = sr.headers.clone();
  for (const h of HOP_BY_HOP) headers.delete(h);
  if (upstreamUpgrade(ctx) === 'websocket') {
    headers.set('Upgrade', 'websocket');
    headers.set('Connection', 'keep-alive, Upgrade');
  }

  // $upstream_x_forwarded_* (handler.lua): appended client address, the scheme/host/port the client used.
  const xff = headers.get('x-forwarded-for');
  headers.set('X-Forwarded-For', xff ? `${xff.join(', ')}, ${req.clientIp}` : req.clientIp);
  headers.set('X-Forwarded-Proto', req.scheme);
  headers.set('X-Forwarded-Host', (ctx.requestHeaders.first('host') ?? '').replace(/:\d+$/, ''));
  headers.set('X-Forwarded-Port', String(req.serverPort));
  headers.set('X-Forwarded-Path', req.rawPath);
  headers.set('X-Real-IP', req.clientIp);
  headers.set('X-Kong-Request-Id', ctx.id); // headers_upstream default (Kong ≥ 3.5)
  if (match.route.preserve_host && match.upstreamHost) headers.set('Host', match.upstreamHost);
  else
    headers.set(
      'Host',
      (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80) ? host : `${host}:${port}`,
    );
  const body = sr.body ?? req.body;
  if (sr.body) headers.set('Content-Length', String(body.length));

  const url = `${scheme}://${host}:${port}${path}${query ? `?${query}` : ''}`;
  const connectTo = aliases[host] ?? { host, port };
  report.upstreamRequest = { method: sr.method ?? req.method, url, headers, body };

  const outHeaders: [string, string][] = [];
  // Header bytes as latin1 text for Node (kong/emulator/rpc.ts: the emulator holds Kong strings).
  for (const [k, vs] of headers.entries()) for (const v of vs) outHeaders.push([k, kongStringByteString(v)]);

  return new Promise<UpstreamResponse>((resolve) => {
    const mod = scheme === 'https' ? https : http;
    const timeout = Math.max(service.connect_timeout, service.read_timeout, service.write_timeout);
    const r = mod.request(
      {
        host: connectTo.host,
        port: connectTo.port,
        method: sr.method ?? req.method,
        path: `${path}${query ? `?${query}` : ''}`,
        headers: outHeaders.flat() as unknown as http.OutgoingHttpHeaders,
        rejectUnauthorized: false, // Kong does not verify upstream TLS by default (tls_verify unset)
        agent: false,
      },
      (res) => {
        const h = new HeaderMap();
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          h.add(res.rawHeaders[i], kongStringFromByteString(res.rawHeaders[i + 1]));
        }
        for (const hop of HOP_BY_HOP) h.delete(hop);
        const status = res.statusCode ?? 502;
        if (reading === 'streaming') {
          // Status and headers go to the client now; the body follows as it arrives. A failure after this point
          // can only cut the response short (nginx closes the client connection), never turn it into a 502.
          headersReceived = true;
          resolve({ status, headers: h, body: Buffer.alloc(0), stream: res });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status, headers: h, body: Buffer.concat(chunks) }));
        res.on('error', () => resolve(kongUpstreamError(ctx, 502)));
      },
    );
    let headersReceived = false;
    r.setTimeout(timeout, () => {
      r.destroy(headersReceived ? new Error('upstream timed out while sending the body') : undefined);
      resolve(kongUpstreamError(ctx, 504));
    });
    r.on('error', () => resolve(kongUpstreamError(ctx, 502)));
    r.end(body);
  });
}

/** Kong's own error page for a failed upstream (502 "An invalid response…", 504 "…timing out"). */
function kongUpstreamError(ctx: RequestContext, status: number): UpstreamResponse {
  const { body, contentType } = errorBody(status, undefined, ctx.requestHeaders.first('accept'), ctx.id);
  const headers = new HeaderMap();
  headers.set('Content-Type', contentType);
  return { status, headers, body: Buffer.from(body) };
}
