// Signing what the upstream must trust, in either format. Pure apart from the clock and the random jti the caller
// passes: the handler gathers the request facts (binding) and this module turns them into request headers.
import { randomUUID, sign as cryptoSign } from 'node:crypto';
import type { BulwarkIdentity } from '../lib/identity';
import { jose } from '../lib/jose';
import type { HeaderValues } from '../lib/pdk';
import type { SigningKey } from '../lib/signing-keys';
import type { UpstreamTrustConfig } from './config';
import {
  canonicalHost,
  canonicalTarget,
  contentDigest,
  coveredComponents,
  encodeIdentityHeader,
  HTTPSIG_ALGORITHM,
  IDENTITY_HEADER,
  serializeSignatureParams,
  SIGNATURE_LABEL,
  SIGNATURE_TAG,
  signatureBase,
  TOKEN_TYPE,
  type GatewayClaims,
  type SigningAlgorithm,
} from './protocol';

/** The request as Kong will send it upstream. */
export interface RequestBinding {
  method: string;
  /** `ngx.var.upstream_uri` in access: the escaped path Kong proxies to (after strip_path and rewrites). */
  upstreamPath: string;
  /** `ngx.var.args`: the query Kong appends to it. */
  query: string;
  /** The Host header the upstream receives. */
  host: string;
  /** The body bytes; undefined: no body; 'unbound': a body too large to digest (oversized_body sign_without_digest). */
  body: Uint8Array | 'unbound' | undefined;
}

export interface SigningInput {
  binding: RequestBinding;
  identity: BulwarkIdentity | undefined;
  audience: string;
  nowMs: number;
  jti?: string;
}

function identityClaim(identity: BulwarkIdentity | undefined): Record<string, unknown> | null {
  return identity === undefined ? null : (identity as unknown as Record<string, unknown>);
}

export function gatewayClaims(conf: UpstreamTrustConfig, input: SigningInput): GatewayClaims & { body_unbound?: true } {
  const iat = Math.floor(input.nowMs / 1000);
  const { binding } = input;
  const claims: GatewayClaims & { body_unbound?: true } = {
    iss: conf.issuer,
    aud: input.audience,
    iat,
    exp: iat + conf.tokenTtl,
    jti: input.jti ?? randomUUID(),
    htm: binding.method,
    htu: canonicalTarget(binding.upstreamPath, binding.query),
    hth: canonicalHost(binding.host),
    identity: identityClaim(input.identity),
  };
  if (input.identity?.subject !== undefined) claims.sub = input.identity.subject;
  if (binding.body === 'unbound') claims.body_unbound = true;
  else if (binding.body !== undefined) claims.cdg = contentDigest(binding.body);
  return claims;
}

/** The JWT format: one header. */
export async function signToken(conf: UpstreamTrustConfig, input: SigningInput): Promise<string> {
  const key = conf.keys.active;
  const claims = gatewayClaims(conf, input);
  return new (jose().SignJWT)(claims as unknown as Record<string, unknown>)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: TOKEN_TYPE })
    .sign(key.privateKey);
}

function rawSignature(key: SigningKey, data: string): Buffer {
  if (key.alg === 'EdDSA') return cryptoSign(null, Buffer.from(data), key.privateKey);
  return cryptoSign('sha256', Buffer.from(data), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
}

/** The RFC 9421 format: Signature-Input, Signature, Bulwark-Identity and (with a body) Content-Digest. */
export function signMessage(conf: UpstreamTrustConfig, input: SigningInput): HeaderValues {
  const key = conf.keys.active;
  const claims = gatewayClaims(conf, input);
  const identityValue = encodeIdentityHeader(claims.iss, claims.aud, claims.identity, claims.body_unbound === true);
  const hasDigest = claims.cdg !== undefined;
  const components = coveredComponents(hasDigest);
  const params = serializeSignatureParams(components, {
    created: claims.iat,
    expires: claims.exp,
    keyid: key.kid,
    alg: HTTPSIG_ALGORITHM[key.alg as SigningAlgorithm],
    nonce: claims.jti,
    tag: SIGNATURE_TAG,
  });
  const { path, query } = { path: input.binding.upstreamPath, query: input.binding.query };
  const base = signatureBase(
    components,
    { method: claims.htm, authority: claims.hth, path, query, contentDigest: claims.cdg, identity: identityValue },
    params,
  );
  const headers: HeaderValues = {
    'Signature-Input': `${SIGNATURE_LABEL}=${params}`,
    Signature: `${SIGNATURE_LABEL}=:${rawSignature(key, base).toString('base64')}:`,
    [IDENTITY_HEADER]: identityValue,
  };
  if (claims.cdg !== undefined) headers['Content-Digest'] = claims.cdg;
  return headers;
}
