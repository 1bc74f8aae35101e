test('jose loads', async () => {
  const gb = (process as any).getBuiltinModule;
  console.log(typeof gb);
  const j = gb('node:module').createRequire(__filename)('jose');
  const { publicKey, privateKey } = await j.generateKeyPair('ES256');
  const t = await new j.SignJWT({a:1}).setProtectedHeader({alg:'ES256'}).sign(privateKey);
  const r = await j.jwtVerify(t, publicKey);
  console.log(r.payload);
  const secret = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
  try { const t2 = await new j.SignJWT({a:1}).setProtectedHeader({alg:'HS256'}).sign(secret); console.log('u8 ok', (await j.jwtVerify(t2, secret)).payload); } catch (e) { console.log('u8 fail', String(e)); }
  const crypto = require('node:crypto');
  const ko = crypto.createSecretKey(Buffer.from(secret));
  try { const t2 = await new j.SignJWT({a:1}).setProtectedHeader({alg:'HS256'}).sign(ko); console.log('ko ok', (await j.jwtVerify(t2, ko)).payload); } catch (e) { console.log('ko fail', String(e)); }
  const jwk = await j.exportJWK(publicKey);
  try { const k = await j.importJWK(JSON.parse(JSON.stringify(jwk)), 'ES256'); console.log('jwk ok', (await j.jwtVerify(t, k)).payload); } catch (e) { console.log('jwk fail', String(e)); }
  try { const s = j.createLocalJWKSet({keys:[JSON.parse(JSON.stringify(jwk))]}); console.log('jwks ok', (await j.jwtVerify(t, s)).payload); } catch (e) { console.log('jwks fail', String(e)); }
  try { await j.jwtVerify(t+'x', publicKey) } catch (e: any) { console.log(e.code, e instanceof j.errors.JOSEError, e instanceof Error) }
});
