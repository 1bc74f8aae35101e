// bulwark-upstream-trust verifier kit: the package entry `bulwark/upstream-trust-verifier`.
//
//   const { createVerifier, expressMiddleware, fastifyPlugin, verifyNodeRequest } = require('bulwark/upstream-trust-verifier');
//
// See plugins/bulwark-upstream-trust/README.md ("Backend verifier") and the conformance vectors in ../vectors.
export {
  createVerifier,
  ERROR_STATUS,
  type GatewayIdentity,
  type JwksSource,
  type Verifier,
  type VerifierOptions,
  type VerifiableRequest,
  type VerifyErrorCode,
  type VerifyResult,
} from './verify';
export {
  expressMiddleware,
  fastifyPlugin,
  readBoundedBody,
  verifyNodeRequest,
  type VerifiedGatewayRequest,
} from './middleware';
export { MemoryReplayCache, type ReplayStore, type ReplayVerdict } from './replay-cache';
export { contentDigest, DEFAULT_TOKEN_HEADER, IDENTITY_HEADER, TOKEN_TYPE } from '../protocol';
