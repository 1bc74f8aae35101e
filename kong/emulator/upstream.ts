// Proxying to the service as Kong's nginx does (kong/runloop/handler.lua access.after + the proxy_* directives
// of kong/templates/nginx_kong.lua): request changes from plugins applied, X-Forwarded-* and X-Real-IP set,
// hop-by-hop headers dropped, Kong's 502/504 on upstream failures.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Service } from './entities';
import type { RouteMatch } from './router';
import { HeaderMap, RequestContext, UpstreamResponse } from './request-context';
import { errorBody } from './pdk';
import type { RequestReport } from './kong';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'];

export async function forwardToUpstream(
  ctx: RequestContext,
  match: RouteMatch,
  service: Service,
  report: RequestReport,
  aliases: Record<string, { host: string; port: number }> = {},
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
  else headers.set('Host', (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80) ? host : `${host}:${port}`);
  const body = sr.body ?? req.body;
  if (sr.body) headers.set('Content-Length', String(body.length));

  const url = `${scheme}://${host}:${port}${path}${query ? `?${query}` : ''}`;
  const connectTo = aliases[host] ?? { host, port };
  report.upstreamRequest = { method: sr.method ?? req.method, url, headers, body };

  const outHeaders: [string, string][] = [];
  for (const [k, vs] of headers.entries()) for (const v of vs) outHeaders.push([k, v]);

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
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const h = new HeaderMap();
          for (let i = 0; i < res.rawHeaders.length; i += 2) h.add(res.rawHeaders[i], res.rawHeaders[i + 1]);
          for (const hop of HOP_BY_HOP) h.delete(hop);
          resolve({ status: res.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) });
        });
        res.on('error', () => resolve(kongUpstreamError(ctx, 502)));
      },
    );
    r.setTimeout(timeout, () => {
      r.destroy();
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
