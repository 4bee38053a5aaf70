import { hash, verify } from '@node-rs/argon2';

// argon2id (the binding's default algorithm) with OWASP's minimum memory-hard parameters.
const OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** The minimum length of a staff password. */
export const MIN_PASSWORD_LENGTH = 12;

/** A Spanish problem with a new password, or undefined when it is acceptable. */
export function passwordProblem(password: string, username = ''): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `La contraseña debe tener al menos ${MIN_PASSWORD_LENGTH} caracteres.`;
  if (password.length > 256) return 'La contraseña no puede superar los 256 caracteres.';
  if (username && password.toLowerCase().includes(username.toLowerCase()))
    return 'La contraseña no puede contener el nombre de usuario.';
  return undefined;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

// Verified when the account does not exist, so that a wrong user name costs the same time as a wrong password.
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword('lucy-dummy-password-never-used');
  return dummy;
}
