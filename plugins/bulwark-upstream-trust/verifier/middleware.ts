// Express, Fastify and plain-Node glue around `createVerifier`. No dependency on either framework: the shapes used
// are Node's own (IncomingMessage, ServerResponse) plus the few members each framework adds.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import {
  createVerifier,
  failure,
  type GatewayIdentity,
  type Verifier,
  type VerifierOptions,
  type VerifyResult,
} from './verify';

/** What a successful verification leaves on the request (`req.bulwark`). */
export interface VerifiedGatewayRequest {
  identity: GatewayIdentity | null;
  tokenId: string;
  claims: Record<string, unknown>;
}

function asVerifier(v: Verifier | VerifierOptions): Verifier {
  return 'verify' in v && typeof v.verify === 'function' ? v : createVerifier(v as VerifierOptions);
}

/** Reads a body stream up to `max` bytes; 'too-large' past it (Content-Length checked before reading). */
export async function readBoundedBody(
  stream: NodeJS.ReadableStream,
  headers: IncomingMessage['headers'],
  max: number,
): Promise<Buffer | 'too-large'> {
  const declared = headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > max) return 'too-large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > max) return 'too-large';
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, result: Extract<VerifyResult, { ok: false }>): void {
  const body = JSON.stringify({ error: result.error, message: result.message });
  res.statusCode = result.status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/**
 * Plain Node (`http.createServer`): reads the body (bounded), verifies, and either answers the refusal itself
 * (returns undefined) or returns the identity and the body bytes for the handler to use.
 */
export async function verifyNodeRequest(
  verifier: Verifier,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<(VerifiedGatewayRequest & { body: Buffer }) | undefined> {
  const body = await readBoundedBody(req, req.headers, verifier.options.maxBodyBytes);
  if (body === 'too-large') {
    send(res, failure('body_too_large') as Extract<VerifyResult, { ok: false }>);
    return undefined;
  }
  const result = await verifier.verify({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
  if (!result.ok) {
    send(res, result);
    return undefined;
  }
  return { identity: result.identity, tokenId: result.tokenId, claims: result.claims, body };
}

type ExpressRequest = IncomingMessage & {
  body?: unknown;
  _body?: boolean;
  bulwark?: VerifiedGatewayRequest;
  originalUrl?: string;
};
type Next = (err?: unknown) => void;

/**
 * Express middleware. Mount it before any body parser: it reads the raw body itself (bounded), verifies, and leaves
 * the bytes in `req.body` (a Buffer; `req._body` set so body-parser does not read again) and the result in
 * `req.bulwark`. If `express.raw()` already ran, its Buffer is used. Refusals are answered with the status and
 * `{"error": code, "message": ...}`.
 */
export function expressMiddleware(
  options: Verifier | VerifierOptions,
): (req: ExpressRequest, res: ServerResponse, next: Next) => void {
  const verifier = asVerifier(options);
  return (req, res, next) => {
    void (async () => {
      let body: Buffer | 'too-large';
      if (Buffer.isBuffer(req.body)) body = req.body;
      else if (req._body === true) {
        // A parser already consumed the stream and kept no bytes: the digest cannot be recomputed.
        send(
          res,
          failure('internal_error', 'Mount the verifier before body parsers (or after express.raw())') as Extract<
            VerifyResult,
            { ok: false }
          >,
        );
        return;
      } else body = await readBoundedBody(req, req.headers, verifier.options.maxBodyBytes);
      if (body === 'too-large') {
        send(res, failure('body_too_large') as Extract<VerifyResult, { ok: false }>);
        return;
      }
      // originalUrl: what the client (the gateway) sent, before express routers strip a mount path from req.url.
      const url = req.originalUrl ?? req.url ?? '';
      const result = await verifier.verify({ method: req.method ?? '', url, headers: req.headers, body });
      if (!result.ok) {
        send(res, result);
        return;
      }
      req.body = body;
      req._body = true;
      req.bulwark = { identity: result.identity, tokenId: result.tokenId, claims: result.claims };
      next();
    })().catch(next);
  };
}

interface FastifyLikeRequest {
  raw: IncomingMessage;
  bulwark?: VerifiedGatewayRequest;
}
interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  header(name: string, value: string): FastifyLikeReply;
  send(body: unknown): FastifyLikeReply;
}
interface FastifyLikeInstance {
  addHook(
    name: 'preParsing',
    hook: (req: FastifyLikeRequest, reply: FastifyLikeReply, payload: NodeJS.ReadableStream) => Promise<unknown>,
  ): unknown;
  decorateRequest(name: string, value: unknown): unknown;
}

/**
 * Fastify plugin (`app.register(fastifyPlugin(options))`): a `preParsing` hook reads the raw body (bounded), verifies,
 * and hands Fastify's parsers the same bytes. It applies to the whole instance it is registered on (not
 * encapsulated). The result is in `request.bulwark`.
 */
export function fastifyPlugin(options: Verifier | VerifierOptions): (app: FastifyLikeInstance) => Promise<void> {
  const verifier = asVerifier(options);
  const plugin = async (app: FastifyLikeInstance): Promise<void> => {
    app.decorateRequest('bulwark', null);
    app.addHook('preParsing', async (request, reply, payload) => {
      const body = await readBoundedBody(payload, request.raw.headers, verifier.options.maxBodyBytes);
      const result =
        body === 'too-large'
          ? failure('body_too_large')
          : await verifier.verify({
              method: request.raw.method ?? '',
              url: request.raw.url ?? '',
              headers: request.raw.headers,
              body,
            });
      if (!result.ok) {
        reply
          .code(result.status)
          .header('content-type', 'application/json')
          .send({ error: result.error, message: result.message });
        return reply;
      }
      request.bulwark = { identity: result.identity, tokenId: result.tokenId, claims: result.claims };
      const replay = Readable.from(body === 'too-large' || body.length === 0 ? [] : [body]) as Readable & {
        receivedEncodedLength?: number;
      };
      replay.receivedEncodedLength = body === 'too-large' ? 0 : body.length;
      return replay;
    });
  };
  // fastify-plugin's marker: the hook applies to the instance the plugin is registered on, not a child context.
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
  return plugin;
}
