import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { dummyHash, hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import { isRole, type Role } from './roles.js';

/** A staff member as the pages see it (never the hash). */
export interface Staff {
  id: string;
  username: string;
  nombre: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
}

/** Limits of the login rate limiter. */
export interface LoginLimits {
  /** Failed attempts per account within the window before it is throttled. */
  perAccount: number;
  /** Failed attempts per client address within the window before it is throttled. */
  perIp: number;
  windowMinutes: number;
}

export const DEFAULT_LIMITS: LoginLimits = { perAccount: 5, perIp: 20, windowMinutes: 15 };

export interface AuthOptions {
  orm: MikroORM;
  clock?: () => Date;
  idleMinutes: number;
  absoluteHours: number;
  limits?: LoginLimits;
}

export type LoginResult =
  { ok: true; token: string; staff: Staff } | { ok: false; reason: 'invalid' | 'throttled'; message: string };

/** A user-facing problem (Spanish); the pages show its message next to the field it names. */
export class StaffError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const INVALID = 'Usuario o contraseña incorrectos.';
const throttledMessage = (minutes: number) =>
  `Demasiados intentos fallidos. Por seguridad, el ingreso queda bloqueado por ${minutes} minutos; intente más tarde.`;

/** SHA-256 of a session id: what the database keeps, so a leaked table cannot be replayed as cookies. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

const normalize = (username: string) => username.trim().toLowerCase();

interface UserRow {
  id: string;
  username: string;
  nombre: string;
  role: string;
  password_hash: string;
  disabled: boolean;
  created_at: Date;
}

function toStaff(r: UserRow): Staff {
  return {
    id: r.id,
    username: r.username,
    nombre: r.nombre,
    role: isRole(r.role) ? r.role : 'lector',
    disabled: r.disabled,
    createdAt: new Date(r.created_at),
  };
}

/** Staff accounts, login with rate limits, and server-side sessions with idle and absolute expiry. */
export function createAuth(o: AuthOptions) {
  const clock = o.clock ?? (() => new Date());
  const limits = o.limits ?? DEFAULT_LIMITS;
  const knex = () => o.orm.em.getKnex();
  const users = () => knex().withSchema('web').table('staff_user');
  const sessions = () => knex().withSchema('web').table('staff_session');

  async function failuresSince(column: 'username' | 'ip', value: string, since: Date): Promise<number> {
    // Failures count from the last success of the account, so a staff member who finally gets in starts afresh.
    const q = knex()
      .withSchema('web')
      .table('login_attempt')
      .where(column, value)
      .where('at', '>=', since)
      .where('success', false);
    if (column === 'username')
      q.whereRaw(
        `at > coalesce((select max(at) from web.login_attempt s where s.username = ? and s.success), '-infinity')`,
        [value],
      );
    const [row] = await q.count<{ n: string }[]>({ n: '*' });
    return Number(row?.n ?? 0);
  }

  async function throttled(username: string, ip: string): Promise<boolean> {
    const since = new Date(clock().getTime() - limits.windowMinutes * 60_000);
    return (
      (await failuresSince('username', username, since)) >= limits.perAccount ||
      (await failuresSince('ip', ip, since)) >= limits.perIp
    );
  }

  async function recordAttempt(username: string, ip: string, success: boolean) {
    await knex()
      .withSchema('web')
      .table('login_attempt')
      .insert({ id: randomUUID(), username, ip, at: clock(), success });
  }

  async function activeAdmins(trx = knex()): Promise<number> {
    const [row] = await trx
      .withSchema('web')
      .table('staff_user')
      .where({ role: 'admin', disabled: false })
      .count<{ n: string }[]>({ n: '*' });
    return Number(row?.n ?? 0);
  }

  /**
   * Runs a change of one account under a lock on every admin row, so two staff cannot each remove "the other"
   * admin at the same time and leave none.
   */
  async function guardedChange(id: string, change: Record<string, unknown>): Promise<Staff> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new StaffError('El usuario no existe.');
    return knex().transaction(async (trx) => {
      await trx.raw(`select id from web.staff_user where role = 'admin' for update`);
      const before = (await trx.withSchema('web').table('staff_user').where({ id }).first()) as
        UserRow | undefined;
      if (!before) throw new StaffError('El usuario no existe.');
      const [after] = (await trx
        .withSchema('web')
        .table('staff_user')
        .where({ id })
        .update({ ...change, updated_at: clock() })
        .returning('*')) as UserRow[];
      if (before.role === 'admin' && !before.disabled && (await activeAdmins(trx)) === 0)
        throw new StaffError('No se puede quitar el último administrador activo.', 'role');
      return toStaff(after!);
    });
  }

  return {
    limits,

    async createStaff(input: { username: string; nombre?: string; role: Role; password: string }) {
      const username = normalize(input.username);
      if (!/^[a-z0-9._@-]{3,150}$/.test(username))
        throw new StaffError(
          'El usuario debe tener entre 3 y 150 caracteres: letras, números, punto, guion, guion bajo o @.',
          'username',
        );
      if (!isRole(input.role)) throw new StaffError('El rol no es válido.', 'role');
      const problem = passwordProblem(input.password, username);
      if (problem) throw new StaffError(problem, 'password');
      const now = clock();
      const row = {
        id: randomUUID(),
        username,
        nombre: (input.nombre ?? '').trim().slice(0, 255),
        role: input.role,
        password_hash: await hashPassword(input.password),
        disabled: false,
        created_at: now,
        updated_at: now,
        password_changed_at: now,
      };
      const inserted = (await users()
        .insert(row)
        .onConflict('username')
        .ignore()
        .returning('*')) as UserRow[];
      if (!inserted[0]) throw new StaffError(`Ya existe un usuario "${username}".`, 'username');
      return toStaff(inserted[0]);
    },

    async listStaff(): Promise<Staff[]> {
      return ((await users().orderBy('username')) as UserRow[]).map(toStaff);
    },

    async getStaff(id: string): Promise<Staff | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      const row = (await users().where({ id }).first()) as UserRow | undefined;
      return row ? toStaff(row) : undefined;
    },

    activeAdmins: () => activeAdmins(),

    async setRole(id: string, role: Role): Promise<Staff> {
      if (!isRole(role)) throw new StaffError('El rol no es válido.', 'role');
      return guardedChange(id, { role });
    },

    async setDisabled(id: string, disabled: boolean): Promise<Staff> {
      const staff = await guardedChange(id, { disabled });
      if (disabled) await sessions().where({ user_id: id }).delete();
      return staff;
    },

    /** Sets a new password and ends every session of the account. */
    async resetPassword(id: string, password: string): Promise<Staff> {
      const current = await this.getStaff(id);
      if (!current) throw new StaffError('El usuario no existe.');
      const problem = passwordProblem(password, current.username);
      if (problem) throw new StaffError(problem, 'password');
      const now = clock();
      await users()
        .where({ id })
        .update({ password_hash: await hashPassword(password), password_changed_at: now, updated_at: now });
      await sessions().where({ user_id: id }).delete();
      return current;
    },

    /** Checks the password, under the per-account and per-IP limits, and opens a session. */
    async login(input: {
      username: string;
      password: string;
      ip: string;
      userAgent?: string;
    }): Promise<LoginResult> {
      const username = normalize(input.username).slice(0, 150);
      const ip = input.ip.slice(0, 64);
      if (await throttled(username, ip))
        return { ok: false, reason: 'throttled', message: throttledMessage(limits.windowMinutes) };
      const row = (await users().where({ username }).first()) as UserRow | undefined;
      const good = await verifyPassword(row?.password_hash ?? (await dummyHash()), input.password);
      if (!row || !good || row.disabled) {
        await recordAttempt(username, ip, false);
        if (await throttled(username, ip))
          return { ok: false, reason: 'throttled', message: throttledMessage(limits.windowMinutes) };
        return { ok: false, reason: 'invalid', message: INVALID };
      }
      await recordAttempt(username, ip, true);
      const token = randomBytes(32).toString('base64url');
      const now = clock();
      await sessions().insert({
        id_hash: hashToken(token),
        user_id: row.id,
        created_at: now,
        last_seen_at: now,
        ip,
        user_agent: (input.userAgent ?? '').slice(0, 512),
      });
      return { ok: true, token, staff: toStaff(row) };
    },

    /**
     * The staff member behind a session cookie, or undefined when the session does not exist, is idle for too
     * long, is older than the absolute limit, or its account is disabled. Expired sessions are deleted.
     */
    async validate(token: string | undefined): Promise<Staff | undefined> {
      if (!token || token.length > 100) return undefined;
      const idHash = hashToken(token);
      const row = (await knex()
        .withSchema('web')
        .table('staff_session as s')
        .join('staff_user as u', 'u.id', 's.user_id')
        .where('s.id_hash', idHash)
        .select('s.created_at as s_created', 's.last_seen_at', 'u.*')
        .first()) as (UserRow & { s_created: Date; last_seen_at: Date }) | undefined;
      if (!row) return undefined;
      const now = clock().getTime();
      const idle = now - new Date(row.last_seen_at).getTime() > o.idleMinutes * 60_000;
      const old = now - new Date(row.s_created).getTime() > o.absoluteHours * 3_600_000;
      if (idle || old || row.disabled) {
        await sessions().where({ id_hash: idHash }).delete();
        return undefined;
      }
      // Written at most once a minute: a page with live updates must not turn into a write per request.
      if (now - new Date(row.last_seen_at).getTime() > 60_000)
        await sessions()
          .where({ id_hash: idHash })
          .update({ last_seen_at: new Date(now) });
      return toStaff(row);
    },

    async logout(token: string | undefined): Promise<void> {
      if (token)
        await sessions()
          .where({ id_hash: hashToken(token) })
          .delete();
    },

    /** Deletes expired sessions and old login attempts (run now and then). */
    async sweep(): Promise<void> {
      const now = clock().getTime();
      await sessions()
        .where('last_seen_at', '<', new Date(now - o.idleMinutes * 60_000))
        .orWhere('created_at', '<', new Date(now - o.absoluteHours * 3_600_000))
        .delete();
      await knex()
        .withSchema('web')
        .table('login_attempt')
        .where('at', '<', new Date(now - 24 * 3_600_000))
        .delete();
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;
