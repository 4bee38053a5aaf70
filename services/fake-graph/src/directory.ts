/**
 * The fake tenant's directory: users (with replication lag), soft-deleted users, subscribed SKUs and their seats.
 * Pure state and validation with an injected clock; the server maps {@link GraphFakeError}s to HTTP.
 */
import { randomUUID } from 'node:crypto';
import { badRequest, GraphFakeError, invalidValue, notFound } from './graph-error.js';

/** A subscribed SKU of the tenant. */
export interface FakeGraphSku {
  skuId: string;
  skuPartNumber: string;
  /** Seats bought (`prepaidUnits.enabled`). */
  seats: number;
  /** Seats used by users outside the fake's own (e.g. staff); default 0. */
  consumedUnits?: number;
  appliesTo?: 'User' | 'Company';
  capabilityStatus?: 'Enabled' | 'Warning' | 'Suspended' | 'Deleted' | 'LockedOut';
  servicePlans?: { servicePlanId: string; servicePlanName: string }[];
}

/** Office 365 A1 for students, the licence the faculty assigns. */
export const STUDENT_SKU: FakeGraphSku = {
  skuId: '314c4481-f395-4525-be8b-2ec4bb1e9d91',
  skuPartNumber: 'STANDARDWOFFPACK_STUDENT',
  seats: 500,
  servicePlans: [
    { servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929', servicePlanName: 'TEAMS1' },
    { servicePlanId: '9aaf7827-d63c-4b61-89c3-182f06f82e5c', servicePlanName: 'EXCHANGE_S_STANDARD' },
  ],
};

/** Office 365 A1 for faculty. */
export const FACULTY_SKU: FakeGraphSku = {
  skuId: '94763226-9b3c-4e75-a931-5c89701abe66',
  skuPartNumber: 'STANDARDWOFFPACK_FACULTY',
  seats: 20,
  servicePlans: [
    { servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929', servicePlanName: 'TEAMS1' },
    { servicePlanId: '9aaf7827-d63c-4b61-89c3-182f06f82e5c', servicePlanName: 'EXCHANGE_S_STANDARD' },
  ],
};

/** A user as the fake stores it (password included: it is a fake). */
export interface FakeGraphUser {
  id: string;
  accountEnabled: boolean;
  displayName: string;
  mailNickname: string;
  userPrincipalName: string;
  passwordProfile: {
    password: string;
    forceChangePasswordNextSignIn: boolean;
    forceChangePasswordNextSignInWithMfa: boolean;
  };
  givenName: string | null;
  surname: string | null;
  usageLocation: string | null;
  employeeId: string | null;
  jobTitle: string | null;
  mail: string | null;
  mobilePhone: string | null;
  officeLocation: string | null;
  preferredLanguage: string | null;
  businessPhones: string[];
  department: string | null;
  companyName: string | null;
  city: string | null;
  country: string | null;
  passwordPolicies: string | null;
  assignedLicenses: { skuId: string; disabledPlans: string[] }[];
  createdDateTime: string;
  lastPasswordChangeDateTime: string;
  deletedDateTime: string | null;
  /** Fake only: when the user becomes visible to reads and writes (replication lag), epoch ms. */
  visibleAt: number;
}

/** Properties a GET returns without `$select` (Graph v1.0 default set). */
export const DEFAULT_USER_PROPERTIES: readonly string[] = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

/** Properties `$select` may name (passwordProfile is always answered null, as Graph does). */
export const SELECTABLE_USER_PROPERTIES: readonly string[] = [
  ...DEFAULT_USER_PROPERTIES,
  'accountEnabled',
  'mailNickname',
  'usageLocation',
  'employeeId',
  'department',
  'companyName',
  'city',
  'country',
  'passwordPolicies',
  'passwordProfile',
  'assignedLicenses',
  'createdDateTime',
  'deletedDateTime',
  'lastPasswordChangeDateTime',
];

const NULLABLE_STRINGS = [
  'givenName',
  'surname',
  'usageLocation',
  'employeeId',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'department',
  'companyName',
  'city',
  'country',
  'passwordPolicies',
] as const;

const WRITABLE = new Set<string>([
  'accountEnabled',
  'displayName',
  'mailNickname',
  'userPrincipalName',
  'passwordProfile',
  'businessPhones',
  ...NULLABLE_STRINGS,
]);

const REQUIRED_ON_CREATE = [
  'accountEnabled',
  'displayName',
  'mailNickname',
  'userPrincipalName',
  'passwordProfile',
];
const UPN_LOCAL = /^[A-Za-z0-9'.\-_!#^~]{1,64}$/;
const MAIL_NICKNAME = /^[\x21-\x7e]{1,64}$/;
const MAIL_NICKNAME_FORBIDDEN = /[@()\\[\]";:<>,]/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DELETED_RETENTION_MS = 30 * 86_400_000;

export const WEAK_PASSWORD_MESSAGE =
  'The specified password does not comply with password complexity requirements. Please provide a different password.';

/** Entra's default policy: 8–256 characters, at least three of lowercase, uppercase, digits and symbols. */
export function passwordIsStrong(password: string): boolean {
  if (password.length < 8 || password.length > 256) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  return classes >= 3;
}

/** Options of {@link createDirectory}. */
export interface DirectoryOptions {
  tenantId: string;
  /** Verified domains a UPN may use (compared case-insensitively). */
  domains: readonly string[];
  skus: readonly FakeGraphSku[];
  now: () => number;
}

/** Seats of one SKU as `subscribedSkus` and `state()` count them. */
export interface SkuUsage {
  skuId: string;
  skuPartNumber: string;
  enabled: number;
  consumed: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Creates the in-memory directory. */
export function createDirectory(options: DirectoryOptions) {
  const domains = options.domains.map((d) => d.toLowerCase());
  let skus = options.skus.map((s) => ({ ...s }));
  let users = new Map<string, FakeGraphUser>();
  let deleted = new Map<string, FakeGraphUser>();

  const consumed = (skuId: string): number => {
    let n = skus.find((s) => s.skuId === skuId)?.consumedUnits ?? 0;
    for (const u of users.values()) if (u.assignedLicenses.some((l) => l.skuId === skuId)) n++;
    return n;
  };

  const purgeExpired = (): void => {
    const now = options.now();
    for (const [id, u] of deleted) {
      if (u.deletedDateTime && now - Date.parse(u.deletedDateTime) > DELETED_RETENTION_MS) deleted.delete(id);
    }
  };

  const byUpn = (upn: string): FakeGraphUser | undefined => {
    const lower = upn.toLowerCase();
    for (const u of users.values()) if (u.userPrincipalName.toLowerCase() === lower) return u;
    return undefined;
  };

  /** The user a path key names (object id or UPN), honouring replication lag. */
  const find = (key: string): FakeGraphUser => {
    const user = GUID.test(key) ? users.get(key.toLowerCase()) : byUpn(key);
    if (!user || user.visibleAt > options.now()) throw notFound(key);
    return user;
  };

  const checkUpn = (upn: unknown, selfId?: string): string => {
    if (typeof upn !== 'string') throw invalidValue('userPrincipalName');
    const at = upn.lastIndexOf('@');
    const local = upn.slice(0, at);
    const domain = upn.slice(at + 1).toLowerCase();
    if (at <= 0 || !UPN_LOCAL.test(local) || local.startsWith('.') || local.endsWith('.')) {
      throw invalidValue('userPrincipalName');
    }
    if (!domains.includes(domain)) {
      throw badRequest(
        'The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.',
        [{ target: 'userPrincipalName', code: 'InvalidValue' }],
      );
    }
    const other = byUpn(upn);
    if (other && other.id !== selfId) {
      throw badRequest('Another object with the same value for property userPrincipalName already exists.', [
        { target: 'userPrincipalName', code: 'ObjectConflict' },
      ]);
    }
    return upn;
  };

  /** Validates writable properties (types and formats) and returns them; unknown ones are refused. */
  const checkWritable = (body: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body)) {
      if (key.startsWith('@odata.')) continue;
      if (!WRITABLE.has(key)) {
        if (SELECTABLE_USER_PROPERTIES.includes(key)) {
          throw badRequest(`Property '${key}' is read-only and cannot be set.`);
        }
        throw new GraphFakeError(
          400,
          'Request_BadRequest',
          `Property '${key}' does not exist as a declared property or extension property.`,
        );
      }
      out[key] = value;
    }
    if ('accountEnabled' in out && typeof out.accountEnabled !== 'boolean')
      throw invalidValue('accountEnabled');
    if ('displayName' in out) {
      const v = out.displayName;
      if (typeof v !== 'string' || v.trim() === '' || v.length > 256) throw invalidValue('displayName');
    }
    if ('mailNickname' in out) {
      const v = out.mailNickname;
      if (typeof v !== 'string' || !MAIL_NICKNAME.test(v) || MAIL_NICKNAME_FORBIDDEN.test(v)) {
        throw invalidValue('mailNickname');
      }
    }
    for (const key of NULLABLE_STRINGS) {
      if (key in out && out[key] !== null && typeof out[key] !== 'string') throw invalidValue(key);
    }
    if (out.usageLocation !== undefined && out.usageLocation !== null) {
      if (!/^[A-Z]{2}$/.test(out.usageLocation as string)) throw invalidValue('usageLocation');
    }
    if ('businessPhones' in out) {
      const v = out.businessPhones;
      if (!Array.isArray(v) || v.length > 1 || !v.every((p) => typeof p === 'string')) {
        throw invalidValue('businessPhones');
      }
    }
    if ('passwordProfile' in out) {
      const p = out.passwordProfile;
      if (!isObject(p)) throw invalidValue('passwordProfile');
      for (const flag of ['forceChangePasswordNextSignIn', 'forceChangePasswordNextSignInWithMfa']) {
        if (p[flag] !== undefined && typeof p[flag] !== 'boolean') throw invalidValue('passwordProfile');
      }
      if (p.password !== undefined && typeof p.password !== 'string') throw invalidValue('passwordProfile');
    }
    return out;
  };

  const applyPassword = (user: FakeGraphUser, p: Record<string, unknown>): void => {
    if (typeof p.password === 'string') {
      if (!passwordIsStrong(p.password)) throw badRequest(WEAK_PASSWORD_MESSAGE);
      user.passwordProfile.password = p.password;
      user.lastPasswordChangeDateTime = iso(options.now());
    }
    if (typeof p.forceChangePasswordNextSignIn === 'boolean') {
      user.passwordProfile.forceChangePasswordNextSignIn = p.forceChangePasswordNextSignIn;
    }
    if (typeof p.forceChangePasswordNextSignInWithMfa === 'boolean') {
      user.passwordProfile.forceChangePasswordNextSignInWithMfa = p.forceChangePasswordNextSignInWithMfa;
    }
  };

  return {
    tenantId: options.tenantId,
    domains: [...options.domains],

    /** `POST /users`: validates and stores a user, invisible for `lagMs`. */
    createUser(body: unknown, lagMs: number): FakeGraphUser {
      if (!isObject(body)) throw badRequest('Empty Payload. JSON content expected.');
      const props = checkWritable(body);
      for (const key of REQUIRED_ON_CREATE)
        if (props[key] === undefined || props[key] === null) throw invalidValue(key);
      const profile = props.passwordProfile as Record<string, unknown>;
      if (typeof profile.password !== 'string' || profile.password === '')
        throw invalidValue('passwordProfile');
      const upn = checkUpn(props.userPrincipalName);
      const now = options.now();
      const user: FakeGraphUser = {
        id: randomUUID(),
        accountEnabled: props.accountEnabled as boolean,
        displayName: props.displayName as string,
        mailNickname: props.mailNickname as string,
        userPrincipalName: upn,
        passwordProfile: {
          password: '',
          forceChangePasswordNextSignIn: false,
          forceChangePasswordNextSignInWithMfa: false,
        },
        givenName: null,
        surname: null,
        usageLocation: null,
        employeeId: null,
        jobTitle: null,
        mail: null,
        mobilePhone: null,
        officeLocation: null,
        preferredLanguage: null,
        businessPhones: (props.businessPhones as string[] | undefined) ?? [],
        department: null,
        companyName: null,
        city: null,
        country: null,
        passwordPolicies: null,
        assignedLicenses: [],
        createdDateTime: iso(now),
        lastPasswordChangeDateTime: iso(now),
        deletedDateTime: null,
        visibleAt: now + lagMs,
      };
      for (const key of NULLABLE_STRINGS) if (typeof props[key] === 'string') user[key] = props[key];
      applyPassword(user, profile);
      users.set(user.id, user);
      return user;
    },

    find,

    /** Every active user, replication lag ignored, in creation order. */
    allUsers(): FakeGraphUser[] {
      return [...users.values()];
    },

    /** Users visible now, in creation order. */
    visibleUsers(): FakeGraphUser[] {
      const now = options.now();
      return [...users.values()].filter((u) => u.visibleAt <= now);
    },

    /**
     * `PATCH /users/{key}`. `canResetPassword` false → 403 when the body sets a password (the app lacks the
     * User Administrator role).
     */
    updateUser(key: string, body: unknown, canResetPassword: boolean): void {
      const user = find(key);
      if (!isObject(body)) throw badRequest('Empty Payload. JSON content expected.');
      const props = checkWritable(body);
      const profile = props.passwordProfile as Record<string, unknown> | undefined;
      if (profile && typeof profile.password === 'string' && !canResetPassword) {
        throw new GraphFakeError(
          403,
          'Authorization_RequestDenied',
          'Insufficient privileges to complete the operation.',
        );
      }
      for (const required of ['accountEnabled', 'displayName', 'mailNickname', 'userPrincipalName']) {
        if (required in props && props[required] === null) throw invalidValue(required);
      }
      if (props.userPrincipalName !== undefined) checkUpn(props.userPrincipalName, user.id);
      if (profile) applyPassword(user, profile);
      if (typeof props.accountEnabled === 'boolean') user.accountEnabled = props.accountEnabled;
      for (const key of ['displayName', 'mailNickname', 'userPrincipalName'] as const) {
        if (typeof props[key] === 'string') user[key] = props[key];
      }
      for (const key of NULLABLE_STRINGS) if (key in props) user[key] = props[key] as string | null;
      if (props.businessPhones) user.businessPhones = props.businessPhones as string[];
    },

    /** `POST /users/{key}/assignLicense`. */
    assignLicense(key: string, body: unknown): FakeGraphUser {
      const user = find(key);
      const b = isObject(body) ? body : {};
      const missing = ['addLicenses', 'removeLicenses'].filter((k) => b[k] === undefined || b[k] === null);
      if (missing.length > 0) {
        throw badRequest(
          `One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: ${missing.join(', ')}.`,
        );
      }
      const add = b.addLicenses;
      const remove = b.removeLicenses;
      if (!Array.isArray(add) || !Array.isArray(remove)) throw badRequest('Invalid request body.');
      const adds: { skuId: string; disabledPlans: string[] }[] = [];
      for (const item of add) {
        if (!isObject(item) || typeof item.skuId !== 'string' || !GUID.test(item.skuId)) {
          throw badRequest(
            "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details.",
          );
        }
        const plans = item.disabledPlans ?? [];
        if (!Array.isArray(plans) || !plans.every((p) => typeof p === 'string'))
          throw badRequest('Invalid disabledPlans.');
        adds.push({ skuId: item.skuId.toLowerCase(), disabledPlans: plans });
      }
      const removes = remove.map((r) => {
        if (typeof r !== 'string' || !GUID.test(r)) {
          throw badRequest(
            "Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details.",
          );
        }
        return r.toLowerCase();
      });
      for (const a of adds) {
        const sku = skus.find((s) => s.skuId === a.skuId);
        if (!sku || (sku.appliesTo ?? 'User') !== 'User' || sku.capabilityStatus === 'Deleted') {
          throw badRequest(`License ${a.skuId} does not correspond to a valid company License.`);
        }
      }
      for (const r of removes) {
        if (!user.assignedLicenses.some((l) => l.skuId === r))
          throw badRequest('User does not have a corresponding license.');
      }
      if (adds.length > 0 && !user.usageLocation) {
        throw badRequest('License assignment cannot be done for user with invalid usage location.');
      }
      for (const a of adds) {
        const sku = skus.find((s) => s.skuId === a.skuId);
        const already = user.assignedLicenses.some((l) => l.skuId === a.skuId);
        if (sku && !already && consumed(sku.skuId) >= sku.seats) {
          throw badRequest(`Subscription with SKU ${sku.skuId} does not have any available licenses.`);
        }
      }
      user.assignedLicenses = user.assignedLicenses.filter((l) => !removes.includes(l.skuId));
      for (const a of adds) {
        const existing = user.assignedLicenses.find((l) => l.skuId === a.skuId);
        if (existing) existing.disabledPlans = a.disabledPlans;
        else user.assignedLicenses.push(a);
      }
      return user;
    },

    /** `DELETE /users/{key}`: soft delete; the UPN gets the id prefix deleted users carry, seats are released. */
    deleteUser(key: string): void {
      const user = find(key);
      users.delete(user.id);
      user.deletedDateTime = iso(options.now());
      deleted.set(user.id, user);
    },

    /** Soft-deleted users, oldest first. */
    deletedUsers(): FakeGraphUser[] {
      purgeExpired();
      return [...deleted.values()];
    },

    findDeleted(id: string): FakeGraphUser {
      purgeExpired();
      const user = deleted.get(id.toLowerCase());
      if (!user) throw notFound(id);
      return user;
    },

    /** `POST /directory/deletedItems/{id}/restore`: back with its UPN and, seats allowing, its licences. */
    restore(id: string): FakeGraphUser {
      const user = this.findDeleted(id);
      if (byUpn(user.userPrincipalName)) {
        throw badRequest(
          'Another object with the same value for property userPrincipalName already exists.',
          [{ target: 'userPrincipalName', code: 'ObjectConflict' }],
        );
      }
      deleted.delete(user.id);
      user.deletedDateTime = null;
      const licences = user.assignedLicenses;
      user.assignedLicenses = [];
      users.set(user.id, user);
      for (const l of licences) {
        const sku = skus.find((s) => s.skuId === l.skuId);
        if (sku && consumed(sku.skuId) < sku.seats) user.assignedLicenses.push(l);
      }
      return user;
    },

    /** `DELETE /directory/deletedItems/{id}`: gone for good. */
    purge(id: string): void {
      const user = this.findDeleted(id);
      deleted.delete(user.id);
    },

    skuUsage(): SkuUsage[] {
      return skus.map((s) => ({
        skuId: s.skuId,
        skuPartNumber: s.skuPartNumber,
        enabled: s.seats,
        consumed: consumed(s.skuId),
      }));
    },

    skus(): FakeGraphSku[] {
      return skus.map((s) => ({ ...s }));
    },

    /** Sets the seats of a SKU (by part number or id); returns false when there is no such SKU. */
    setSeats(sku: string, seats: number): boolean {
      const found = skus.find((s) => s.skuId === sku.toLowerCase() || s.skuPartNumber === sku);
      if (!found) return false;
      found.seats = seats;
      return true;
    },

    reset(): void {
      users = new Map();
      deleted = new Map();
      skus = options.skus.map((s) => ({ ...s }));
    },

    counts(): { users: number; deletedUsers: number } {
      purgeExpired();
      return { users: users.size, deletedUsers: deleted.size };
    },
  };
}

/** The directory the server works on. */
export type Directory = ReturnType<typeof createDirectory>;

/** The UPN a soft-deleted user shows: its id without dashes, then the original UPN. */
export const deletedUpn = (user: FakeGraphUser): string =>
  `${user.id.replace(/-/g, '')}${user.userPrincipalName}`;

/** A user as Graph answers it: the default property set, or exactly the `$select`ed ones. */
export function projectUser(
  user: FakeGraphUser,
  select: readonly string[] | undefined,
  options: { deleted?: boolean } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const upn = options.deleted ? deletedUpn(user) : user.userPrincipalName;
  for (const key of select ?? DEFAULT_USER_PROPERTIES) {
    if (key === 'passwordProfile') out[key] = null;
    else if (key === 'userPrincipalName') out[key] = upn;
    else out[key] = structuredClone((user as unknown as Record<string, unknown>)[key] ?? null);
  }
  return out;
}
