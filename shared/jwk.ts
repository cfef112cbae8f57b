/**
 * The P-256 JSON Web Keys that the SDKs, the server and the bench pass around
 * (RFC 7517, RFC 7518 §6.2). Types only: this file has no runtime code and
 * imports nothing, so every build (browser, mini-program, Node) can use it.
 */

/** A P-256 public key: the members an RFC 7638 thumbprint uses, and nothing else. */
export interface EcPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}

/** A P-256 key pair: the public members and the private scalar `d` (base64url, 32 bytes). */
export interface EcPrivateJwk extends EcPublicJwk {
  d: string;
}

/** A server token key as the SDKs use it: a public key named by its `kid`. */
export interface ServerTokenKey extends EcPublicJwk {
  kid: string;
}

/** A server token key as `GET /v1/keys` lists it. */
export interface PublicTokenJwk extends ServerTokenKey {
  use: 'enc';
  alg: 'ECDH-ES';
}
