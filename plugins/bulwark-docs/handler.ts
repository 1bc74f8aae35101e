// bulwark-docs access phase: answer the docs paths on the route it is on, after the route's authentication
// (bulwark-jwt 1460, bulwark-api-key 1260, …), bulwark-authz (960) and bulwark-rate-limit (915) have run, so that
// the docs are refused exactly as the API is; every other request passes on to bulwark-validator (890) and the
// upstream.
//
// RPC budget (each kong.* call is one round trip; lib/plugin.ts writes the decision record, one kong.log.set_serialize_value:
// the allow record on requests that pass, the docs_served / docs_not_modified record before an answer, the deny
// record before a refusal; lib/security-event.ts, read by bulwark-audit):
//   any other request:            getPath + decision record                                = 2
//   <path> (the page):            getPath + getMethod + decision record + exit             = 4
//   <path>/openapi.json:          getPath + getMethod + readIdentity + getHeader(If-None-Match) + decision record
//                                 + exit = 6 (filter: none: no readIdentity, 5)
//                                 filter: authz without an identity: getPath + getMethod + readIdentity + log
//                                 + the deny record + exit = 6 (403)
//   <path>/assets/<file>:         getPath + getMethod + getHeader(If-None-Match) + decision record + exit = 5
//   a refusal (404, 405):         getPath + getMethod + the deny record + exit             = 4
// The document for a caller is serialised once per (document version, visible operation set) and then served
// from the instance's cache (publish.ts).
import { readIdentity } from '../lib/identity';
import type { HeaderValues } from '../lib/pdk';
import { describeError, type PhaseContext } from '../lib/plugin';
import type { DocsConfig } from './config';
import { docsPage, newNonce, pageHeaders, resourceHeaders } from './page';
import { ifNoneMatchHits } from './publish';

/** Reason codes of this plugin's answers and refusals (the deny records of lib/security-event.ts). */
export const REASONS = {
  /** A request that is not for the docs paths passed on (lib/plugin.ts's allow record). */
  allowed: 'allowed',
  /** The page, the document or a UI file was answered (200). */
  served: 'docs_served',
  /** The document or a UI file was still current (304 to If-None-Match). */
  notModified: 'docs_not_modified',
  notFound: 'docs_not_found',
  methodNotAllowed: 'docs_method_not_allowed',
  /** filter authz: nobody published a caller identity (no authentication plugin ran, or its record is unusable). */
  noIdentity: 'docs_no_identity',
  /** filter authz: the rules could not be evaluated for this caller. */
  filterFailed: 'docs_filter_failed',
} as const;

export type DocsTarget =
  { kind: 'page' } | { kind: 'document' } | { kind: 'asset'; name: string } | { kind: 'unknown' };

/** Which docs resource a request path names; undefined: not a docs path (the request passes on). */
export function docsTarget(basePath: string, path: string): DocsTarget | undefined {
  if (path === basePath || path === `${basePath}/`) return { kind: 'page' };
  if (!path.startsWith(`${basePath}/`)) return undefined;
  const rest = path.slice(basePath.length + 1);
  if (rest === 'openapi.json') return { kind: 'document' };
  if (rest.startsWith('assets/')) return { kind: 'asset', name: rest.slice('assets/'.length) };
  return { kind: 'unknown' };
}

/** Answer a docs request with its allow record (written by lib/plugin.ts just before the exit: one RPC). */
function answer(
  { kong, record }: Pick<PhaseContext<DocsConfig>, 'kong' | 'record'>,
  status: 200 | 304,
  body: string | Buffer,
  headers: HeaderValues,
): Promise<void> {
  record('allow', { reason: status === 304 ? REASONS.notModified : REASONS.served });
  return kong.response.exit(status, body, headers);
}

export async function access(ctx: PhaseContext<DocsConfig>): Promise<void> {
  const { kong, conf, log, reject } = ctx;
  const target = docsTarget(conf.path, await kong.request.getPath());
  if (target === undefined) return;
  const method = await kong.request.getMethod();
  if (method !== 'GET' && method !== 'HEAD')
    return reject(405, '', { Allow: 'GET, HEAD' }, { reason: REASONS.methodNotAllowed });

  switch (target.kind) {
    case 'page': {
      const nonce = newNonce();
      const html = docsPage({ basePath: conf.path, title: conf.title, tryIt: conf.tryIt, nonce });
      return answer(ctx, 200, html, pageHeaders(nonce));
    }
    case 'document': {
      const { publisher } = conf;
      const identity = publisher.mode === 'none' ? undefined : await readIdentity(kong);
      // filter authz lists what bulwark-authz's rules allow a known caller: without an identity there is nobody to
      // list operations for (fail closed; bulwark-authz itself would refuse an unauthenticated caller too).
      if (publisher.mode === 'authz' && identity === undefined) {
        await log.warn('docs_refused', { reason: REASONS.noIdentity, status: 403 });
        return reject(403, 'no caller identity for the API documentation', undefined, { reason: REASONS.noIdentity });
      }
      let doc;
      try {
        doc = publisher.documentFor(identity);
      } catch (err) {
        await log.err('docs_refused', { reason: REASONS.filterFailed, error: describeError(err), status: 500 });
        return reject(500, 'the API documentation could not be filtered for this caller', undefined, {
          reason: REASONS.filterFailed,
        });
      }
      const headers: HeaderValues = {
        ...resourceHeaders('application/json; charset=utf-8'),
        ETag: doc.etag,
        // Revalidated on every use (the caller's rights may have changed); never stored by a shared cache when
        // the body depends on the caller.
        'Cache-Control': doc.perCaller ? 'private, no-cache' : 'no-cache',
      };
      if (doc.perCaller) headers.Vary = 'Authorization';
      if (ifNoneMatchHits(await kong.request.getHeader('if-none-match'), doc.etag))
        return answer(ctx, 304, '', headers);
      return answer(ctx, 200, doc.body, headers);
    }
    case 'asset': {
      const asset = conf.assets.get(target.name);
      if (asset === undefined) return reject(404, undefined, undefined, { reason: REASONS.notFound });
      const headers: HeaderValues = {
        ...resourceHeaders(asset.contentType),
        ETag: asset.etag,
        'Cache-Control': 'private, max-age=86400',
      };
      if (ifNoneMatchHits(await kong.request.getHeader('if-none-match'), asset.etag))
        return answer(ctx, 304, '', headers);
      return answer(ctx, 200, asset.body, headers);
    }
    default:
      return reject(404, undefined, undefined, { reason: REASONS.notFound });
  }
}
