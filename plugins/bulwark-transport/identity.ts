// The identity bulwark-transport publishes for a verified client certificate (the contract:
// plugins/lib/identity.ts, docs/identity.md). Pure: the handler publishes it with one kong.ctx.shared.set.
import { fitClaims, fitStringList, identityConsumer, type IdentityInput } from '../lib/identity';
import type { KongConsumer } from '../lib/pdk';
import type { CertificateSubject, SubjectAltNames } from './mtls';

export const PUBLISHER = 'bulwark-transport';

/**
 * credential `mtls` with the leaf's SHA-256 fingerprint as id; subject: the certificate's common name, else its
 * first URI SAN (a SPIFFE id), DNS name or email. The SANs are claims `san_uri`, `san_dns`, `san_email`.
 */
export function mtlsIdentity(
  subject: CertificateSubject,
  sans: SubjectAltNames,
  fingerprint: string,
  consumer: KongConsumer | undefined,
): IdentityInput {
  const uri = fitStringList(sans.uri);
  const dns = fitStringList(sans.dns);
  const email = fitStringList(sans.email);
  const input: IdentityInput = {
    authenticated: true,
    authenticatedBy: PUBLISHER,
    method: 'mtls',
    credential: { kind: 'mtls', id: fingerprint },
    claims: fitClaims({ san_uri: uri, san_dns: dns, san_email: email }),
  };
  const name = fitStringList([subject.cn, uri[0], dns[0], email[0]])[0];
  if (name !== undefined) input.subject = name;
  const c = identityConsumer(consumer);
  if (c !== undefined) input.consumer = c;
  return input;
}
