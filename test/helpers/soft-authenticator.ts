import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

import { encodeCBOR, type CBORType } from '@levischuck/tiny-cbor';

// A WebAuthn authenticator in software, for flow tests that drive passkeys without a
// browser: the true edge of the system (a phone's secure element, a security key), so it is
// simulated here and nowhere else; the Chromium suite uses the browser's own virtual
// authenticator. It answers the server's options as @simplewebauthn/browser would send a
// real one's answer: `none` attestation, ES256 keys, flags and a counter as told, and
// it can be made to misbehave (another origin, a replayed or lowered counter).

export interface SoftCredential {
  readonly id: string;
  readonly privateKey: KeyObject;
  readonly userHandle: string;
  counter: number;
}

export interface SoftAuthenticatorOptions {
  /** The page's origin the browser would put in clientDataJSON. */
  readonly origin: string;
  /** Backed up (a synced passkey): flags BE and BS set. */
  readonly backedUp?: boolean;
  /** The authenticator verifies its user (PIN, biometrics): flag UV. */
  readonly userVerified?: boolean;
  /** Counter step per use; 0: keeps no counter, as synced passkeys do. */
  readonly counterStep?: number;
  /** The length of the credential ids it makes (16 bytes, as most do; WebAuthn allows up to 1023). */
  readonly credentialIdBytes?: number;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

export interface CreationOptions {
  readonly challenge: string;
  readonly rp: { readonly id?: string; readonly name: string };
  readonly user: { readonly id: string };
  readonly attestation?: string;
}
export interface RequestOptions {
  readonly challenge: string;
  readonly rpId?: string;
  readonly allowCredentials?: readonly { readonly id: string }[];
}

export class SoftAuthenticator {
  readonly credentials = new Map<string, SoftCredential>();
  readonly options: Required<SoftAuthenticatorOptions>;

  constructor(options: SoftAuthenticatorOptions) {
    this.options = { backedUp: false, userVerified: true, counterStep: 1, credentialIdBytes: 16, ...options };
  }

  private flags(extra: number): number {
    const { backedUp, userVerified } = this.options;
    return FLAG_UP | (userVerified ? FLAG_UV : 0) | (backedUp ? FLAG_BE | FLAG_BS : 0) | extra;
  }

  private clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string, origin = this.options.origin): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** The answer to registration options (navigator.credentials.create), as JSON text. */
  register(options: CreationOptions, overrides: { origin?: string; rpId?: string } = {}): string {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = encodeCBOR(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const id = randomBytes(this.options.credentialIdBytes);
    const rpId = overrides.rpId ?? options.rp.id!;
    const counter = this.options.counterStep;
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.flags(FLAG_AT)]), counterBytes(counter), Buffer.alloc(16), idLength, id, Buffer.from(cose)]);
    const attestationObject = encodeCBOR(new Map<string, CBORType>([['fmt', 'none'], ['attStmt', new Map<string, CBORType>()], ['authData', authData]]));
    this.credentials.set(b64url(id), { id: b64url(id), privateKey, userHandle: options.user.id, counter });
    return JSON.stringify({
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key',
      response: { clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge, overrides.origin)), attestationObject: b64url(attestationObject), transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    });
  }

  /**
   * The answer to authentication options (navigator.credentials.get), as JSON text: with the
   * credential the options allow (or, for discoverable ones, `credentialId` or the first).
   */
  authenticate(options: RequestOptions, overrides: { credentialId?: string; origin?: string; rpId?: string; counter?: number; userHandle?: string | null } = {}): string {
    const allowed = options.allowCredentials?.map((one) => one.id) ?? [];
    const id = overrides.credentialId ?? allowed.find((one) => this.credentials.has(one)) ?? [...this.credentials.keys()][0];
    const credential = id === undefined ? undefined : this.credentials.get(id);
    if (!credential) throw new Error('no credential of this authenticator answers these options');
    credential.counter = overrides.counter ?? credential.counter + this.options.counterStep;
    const rpId = overrides.rpId ?? options.rpId!;
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.flags(0)]), counterBytes(credential.counter)]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, overrides.origin);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
    const userHandle = overrides.userHandle === null ? undefined : (overrides.userHandle ?? credential.userHandle);
    return JSON.stringify({
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature), ...(userHandle !== undefined && { userHandle }) },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    });
  }
}

function counterBytes(counter: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(counter);
  return bytes;
}
