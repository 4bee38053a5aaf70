import { EntitySchema } from '@mikro-orm/postgresql';
import type { Role } from '../roles.js';

/** A staff account of the admin. */
export interface StaffUser {
  id: string;
  username: string;
  nombre: string;
  role: Role;
  passwordHash: string;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  passwordChangedAt: Date;
}

/** A login session; only the SHA-256 of its id is stored. */
export interface StaffSession {
  idHash: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  ip: string;
  userAgent: string;
}

/** One login attempt, for the per-account and per-IP rate limits. */
export interface LoginAttempt {
  id: string;
  username: string;
  ip: string;
  at: Date;
  success: boolean;
}

/** One change made through the admin. */
export interface AuditEntry {
  id: string;
  at: Date;
  actor: string;
  ip: string;
  action: string;
  target: string;
  detalles?: Record<string, unknown> | null;
}

export const StaffUserSchema = new EntitySchema<StaffUser>({
  name: 'StaffUser',
  tableName: 'staff_user',
  properties: {
    id: { type: 'uuid', primary: true },
    username: { type: 'string', unique: true },
    nombre: { type: 'string' },
    role: { type: 'string' },
    passwordHash: { type: 'string' },
    disabled: { type: 'boolean' },
    createdAt: { type: 'Date' },
    updatedAt: { type: 'Date' },
    passwordChangedAt: { type: 'Date' },
  },
});

export const StaffSessionSchema = new EntitySchema<StaffSession>({
  name: 'StaffSession',
  tableName: 'staff_session',
  properties: {
    idHash: { type: 'string', primary: true },
    userId: { type: 'uuid' },
    createdAt: { type: 'Date' },
    lastSeenAt: { type: 'Date' },
    ip: { type: 'string' },
    userAgent: { type: 'string' },
  },
});

export const LoginAttemptSchema = new EntitySchema<LoginAttempt>({
  name: 'LoginAttempt',
  tableName: 'login_attempt',
  properties: {
    id: { type: 'uuid', primary: true },
    username: { type: 'string' },
    ip: { type: 'string' },
    at: { type: 'Date' },
    success: { type: 'boolean' },
  },
});

export const AuditEntrySchema = new EntitySchema<AuditEntry>({
  name: 'AuditEntry',
  tableName: 'audit_entry',
  properties: {
    id: { type: 'uuid', primary: true },
    at: { type: 'Date' },
    actor: { type: 'string' },
    ip: { type: 'string' },
    action: { type: 'string' },
    target: { type: 'string' },
    detalles: { type: 'json', nullable: true },
  },
});
