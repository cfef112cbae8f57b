/** Test helpers: a device and a token maker on the shared WebCrypto builder. */
import { webcrypto } from 'node:crypto';
import { buildBlackBox, type DeviceSigner, type ServerTokenKey } from '../../client/src/token/build.js';
import { generateDeviceKeyPair, webCryptoDeviceSigner, webCryptoTokenCrypto } from '../../client/src/token/webcrypto.js';
import type { BlackBoxPayloadInput } from '../../shared/schemas.js';

const subtle = webcrypto.subtle as unknown as SubtleCrypto;
export const tokenCrypto = webCryptoTokenCrypto(subtle, webcrypto as unknown as Crypto);

export async function newDevice(): Promise<DeviceSigner> {
  return webCryptoDeviceSigner(subtle, await generateDeviceKeyPair(subtle));
}

export interface MakeTokenOptions {
  serverKey: ServerTokenKey;
  appKey: string;
  device?: DeviceSigner;
  issuedAt?: number;
  payload?: Partial<Omit<BlackBoxPayloadInput, 'jti' | 'iat'>>;
}

export async function makeToken(options: MakeTokenOptions): Promise<string> {
  return buildBlackBox({
    serverKey: options.serverKey,
    signer: options.device ?? (await newDevice()),
    crypto: tokenCrypto,
    issuedAt: options.issuedAt,
    payload: { v: 1, app: options.appKey, platform: 'web', sdk: 'test/1', degraded: false, signals: {}, behavior: {}, ...options.payload },
  });
}
