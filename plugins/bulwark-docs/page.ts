// The docs UI: Swagger UI from the npm package swagger-ui-dist (its own files, read once per process; no CDN), and
// the one HTML page that starts it. Why Swagger UI: the measurements in README.md (the only one of Swagger UI,
// Redoc and Scalar that rendered under a nonce-only CSP without a violation). Pure apart from reading the package.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HeaderValues } from '../lib/pdk';
import { securityHeaders } from '../bulwark-transport/security-headers';

export interface Asset {
  body: string;
  contentType: string;
  etag: string;
}

/** The files the page loads, by the name under <path>/assets/. Nothing else of the package is served. */
const ASSET_FILES: Readonly<Record<string, string>> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
};

let loaded: ReadonlyMap<string, Asset> | undefined;

/** swagger-ui-dist's files, read at the first instance start (throws when the package is missing). */
export function uiAssets(): ReadonlyMap<string, Asset> {
  if (loaded !== undefined) return loaded;
  const dir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const out = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(ASSET_FILES)) {
    // The source-map comment would make a browser's developer tools fetch a file that is not served.
    const body = fs.readFileSync(path.join(dir, name), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
    const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    out.set(name, { body, contentType, etag });
  }
  loaded = out;
  return out;
}

/** A fresh CSP nonce (128 bits) per page response. */
export function newNonce(): string {
  return crypto.randomBytes(16).toString('base64');
}

/**
 * The page's Content-Security-Policy: scripts only with this response's nonce (the bundle and the start script;
 * no 'unsafe-inline', no 'unsafe-eval'), styles from this origin, connections only to this origin (the document,
 * and Try it out when on), nothing framed, no forms, no plugins, no base URL change.
 */
export function pageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** Bulwark's browser security headers (bulwark-transport's `browser` preset) with the page's own CSP. */
export function pageHeaders(nonce: string): HeaderValues {
  return {
    ...securityHeaders('browser', {
      'Content-Security-Policy': pageCsp(nonce),
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    }),
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
  };
}

/** Headers of the JSON document and the assets: no rendering, no sniffing, same-origin only. */
export function resourceHeaders(contentType: string): HeaderValues {
  return {
    'Content-Type': contentType,
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
  };
}

/** JSON for inside a <script> element: no `</script>` or `<!--` can end or change it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function htmlText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageOptions {
  /** The docs path (config `path`), as the client sends it. */
  basePath: string;
  title: string;
  tryIt: boolean;
  nonce: string;
}

/**
 * The page. The document URL is written here by the server (Swagger UI's query configuration is off:
 * `?url=`/`?configUrl=` do nothing), the validator badge (a request to validator.swagger.io) is off, and
 * markdown goes through Swagger UI's DOMPurify sanitiser (useUnsafeMarkdown: false).
 */
export function docsPage(o: PageOptions): string {
  const settings = {
    url: `${o.basePath}/openapi.json`,
    dom_id: '#swagger-ui',
    queryConfigEnabled: false,
    validatorUrl: null,
    useUnsafeMarkdown: false,
    deepLinking: false,
    persistAuthorization: false,
    withCredentials: false,
    tryItOutEnabled: false,
    supportedSubmitMethods: o.tryIt ? ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] : [],
  };
  const assets = `${htmlText(o.basePath)}/assets`;
  const nonce = htmlText(o.nonce);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${htmlText(o.title)}</title>
<link rel="stylesheet" href="${assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script nonce="${nonce}" src="${assets}/swagger-ui-bundle.js"></script>
<script nonce="${nonce}">window.ui = SwaggerUIBundle(${scriptJson(settings)});</script>
</body>
</html>
`;
}
