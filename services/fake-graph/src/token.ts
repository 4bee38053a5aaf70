/**
 * Access tokens of the fake's Entra ID token endpoint: JWT-shaped (`header.payload.signature`, base64url) with the
 * claims a Graph app-only token carries (aud, iss, tid, appid, roles, iat/nbf/exp), signed with HMAC-SHA256 under a
 * key derived from the tenant and the app's credentials, so tokens survive a restart of the fake with the same
 * configuration and die when the secret changes.
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/** Audience of Graph tokens, also the resource of the only scope the endpoint grants. */
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
/** Graph's well-known application id, accepted as the resource in `{id}/.default` scopes. */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** An app registration allowed to use the client-credentials grant. */
export interface FakeGraphApp {
  clientId: string;
  /** The client secret; unset: the app authenticates with a certificate only. */
  clientSecret?: string;
  /**
   * What the app's tokens are signed with, when not derived from the current secret (set by the fake when the
   * secret is replaced, so tokens issued before stay valid, as Entra's do).
   */
  tokenKeySeed?: string;
  /**
   * Public certificates (PEM) registered on the app: a client assertion signed with one of their private keys is
   * accepted instead of the secret (`client_assertion`, RFC 7523), as Entra's certificate credentials.
   */
  certificates?: string[];
  /** Application permissions granted (the `roles` claim); default every role the fake checks. */
  roles?: string[];
  /**
   * Whether the app holds a directory role that may reset passwords (User Administrator): without it a PATCH of
   * `passwordProfile` answers 403 `Authorization_RequestDenied`, as Graph does. Default true.
   */
  passwordAdmin?: boolean;
}

/** The roles a default app holds. */
export const DEFAULT_APP_ROLES: readonly string[] = [
  'User.ReadWrite.All',
  'Directory.ReadWrite.All',
  'LicenseAssignment.ReadWrite.All',
];

/** The claims the fake puts in (and reads back from) a token. */
export interface TokenClaims {
  aud: string;
  iss: string;
  tid: string;
  appid: string;
  roles: string[];
  idtyp: 'app';
  iat: number;
  nbf: number;
  exp: number;
  uti: string;
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

const signingKey = (tenantId: string, app: FakeGraphApp): Buffer =>
  createHash('sha256')
    .update(
      `fake-graph|${tenantId}|${app.clientId}|${app.tokenKeySeed ?? app.clientSecret ?? ''}|${(app.certificates ?? []).join('|')}`,
    )
    .digest();

/** Issues a token for `app`, valid `lifetimeSeconds` from `nowMs`. */
export function issueToken(
  app: FakeGraphApp,
  tenantId: string,
  nowMs: number,
  lifetimeSeconds: number,
): string {
  const iat = Math.floor(nowMs / 1000);
  const claims: TokenClaims = {
    aud: GRAPH_RESOURCE,
    iss: `https://sts.windows.net/${tenantId}/`,
    tid: tenantId,
    appid: app.clientId,
    roles: [...(app.roles ?? DEFAULT_APP_ROLES)],
    idtyp: 'app',
    iat,
    nbf: iat,
    exp: iat + lifetimeSeconds,
    uti: randomUUID(),
  };
  const head = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }))}.${b64url(JSON.stringify(claims))}`;
  return `${head}.${createHmac('sha256', signingKey(tenantId, app)).update(head).digest('base64url')}`;
}

/** The outcome of checking a bearer token: the app and claims, or Graph's 401 message. */
export type TokenCheck =
  { ok: true; app: FakeGraphApp; claims: TokenClaims } | { ok: false; message: string };

/** Checks a bearer token's shape, signature, tenant and lifetime against the configured apps. */
export function verifyToken(
  token: string,
  apps: readonly FakeGraphApp[],
  tenantId: string,
  nowMs: number,
): TokenCheck {
  if (token === '') return { ok: false, message: 'Access token is empty.' };
  const parts = token.split('.');
  if (parts.length !== 3) {
    return {
      ok: false,
      message:
        "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.",
    };
  }
  const [header = '', payload = '', signature = ''] = parts;
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return { ok: false, message: 'Invalid JWT token. The token is malformed.' };
  }
  const app = apps.find((a) => a.clientId === claims.appid);
  const expected = app
    ? createHmac('sha256', signingKey(tenantId, app)).update(`${header}.${payload}`).digest()
    : undefined;
  const given = Buffer.from(signature, 'base64url');
  if (!app || !expected || expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, message: 'Access token validation failure. Invalid signature.' };
  }
  if (claims.aud !== GRAPH_RESOURCE && claims.aud !== GRAPH_APP_ID) {
    return { ok: false, message: 'Access token validation failure. Invalid audience.' };
  }
  if (claims.tid !== tenantId)
    return { ok: false, message: 'Access token validation failure. Invalid issuer.' };
  const now = nowMs / 1000;
  if (claims.exp <= now) return { ok: false, message: 'Lifetime validation failed, the token is expired.' };
  if (claims.nbf > now + 300)
    return { ok: false, message: 'Lifetime validation failed, the token is not yet valid.' };
  return { ok: true, app, claims };
}
