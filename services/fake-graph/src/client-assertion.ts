/**
 * Entra ID's certificate credential for the client-credentials grant: the app signs a short JWT (the client
 * assertion, RFC 7523) with the private key of a certificate registered on it; the token endpoint checks the
 * signature against that certificate's public key (found by the `x5t` / `x5t#S256` thumbprint in the header), the
 * audience (the token endpoint), issuer and subject (the client id), and the lifetime. Errors carry the AADSTS
 * codes and texts Entra answers with.
 */
import { constants, createHash, verify, X509Certificate } from 'node:crypto';

/** The `client_assertion_type` of a JWT bearer client assertion. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A registered certificate: its PEM and the thumbprints Entra shows for it. */
export interface RegisteredCertificate {
  pem: string;
  /** SHA-1 of the DER, base64url (the `x5t` header). */
  x5t: string;
  /** SHA-256 of the DER, base64url (the `x5t#S256` header). */
  x5tS256: string;
  cert: X509Certificate;
}

/** Parses a PEM certificate (the public part only is used). */
export function registerCertificate(pem: string): RegisteredCertificate {
  const cert = new X509Certificate(pem);
  return {
    pem,
    cert,
    x5t: createHash('sha1').update(cert.raw).digest('base64url'),
    x5tS256: createHash('sha256').update(cert.raw).digest('base64url'),
  };
}

/** The outcome of checking an assertion: fine, or the AADSTS error to answer. */
export type AssertionCheck = { ok: true } | { ok: false; aadsts: number; message: string };

const b64json = (part: string): Record<string, unknown> | undefined => {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Checks a client assertion for `clientId` against the app's certificates. `audiences` are the token endpoint URLs
 * Entra accepts as `aud` (with and without the `/v2.0`).
 */
export function verifyClientAssertion(
  assertion: string,
  input: {
    clientId: string;
    certificates: readonly RegisteredCertificate[];
    audiences: readonly string[];
    nowMs: number;
  },
): AssertionCheck {
  const parts = assertion.split('.');
  const header = parts.length === 3 ? b64json(parts[0]!) : undefined;
  const claims = parts.length === 3 ? b64json(parts[1]!) : undefined;
  if (!header || !claims) {
    return { ok: false, aadsts: 50027, message: 'JWT token is invalid or malformed.' };
  }
  const thumbprint =
    typeof header['x5t#S256'] === 'string'
      ? { kind: 'x5tS256' as const, value: header['x5t#S256'] }
      : typeof header.x5t === 'string'
        ? { kind: 'x5t' as const, value: header.x5t }
        : undefined;
  const registered = thumbprint
    ? input.certificates.find((c) => c[thumbprint.kind] === thumbprint.value)
    : undefined;
  if (!registered) {
    return {
      ok: false,
      aadsts: 700027,
      message: `Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint?.value ?? ''}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${input.clientId}'.]`,
    };
  }
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2]!, 'base64url');
  const key = registered.cert.publicKey;
  const alg = header.alg;
  const valid =
    alg === 'RS256'
      ? verify('sha256', data, key, signature)
      : alg === 'PS256'
        ? verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)
        : false;
  if (!valid) {
    return {
      ok: false,
      aadsts: 700027,
      message: `Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${thumbprint!.value}']`,
    };
  }
  if (claims.iss !== input.clientId || claims.sub !== input.clientId) {
    return {
      ok: false,
      aadsts: 700021,
      message: "Client assertion application identifier doesn't match 'client_id' parameter.",
    };
  }
  if (typeof claims.aud !== 'string' || !input.audiences.includes(claims.aud)) {
    return {
      ok: false,
      aadsts: 700212,
      message: `No matching federated identity record found for presented assertion audience '${String(claims.aud)}'.`,
    };
  }
  const now = input.nowMs / 1000;
  const exp = typeof claims.exp === 'number' ? claims.exp : 0;
  const nbf = typeof claims.nbf === 'number' ? claims.nbf : 0;
  if (exp <= now - 300 || nbf > now + 300) {
    return {
      ok: false,
      aadsts: 700024,
      message: 'Client assertion is not within its valid time range.',
    };
  }
  if (typeof claims.jti !== 'string' || claims.jti === '') {
    return { ok: false, aadsts: 50027, message: 'JWT token is invalid or malformed (no jti).' };
  }
  const certValidTo = Date.parse(registered.cert.validTo);
  if (Number.isFinite(certValidTo) && certValidTo < input.nowMs) {
    return {
      ok: false,
      aadsts: 700027,
      message: 'Client assertion contains an invalid signature. [Reason - The key used is expired.]',
    };
  }
  return { ok: true };
}
