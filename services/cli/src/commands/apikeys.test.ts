import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiKeyStore } from '@lucy/platform/api-keys';
import { parseGrants, register } from './apikeys.js';

let dir: string;
let file: string;
let out: string[];

async function lucy(...args: string[]): Promise<string> {
  const program = new Command('lucy').option('--json').exitOverride();
  register(program);
  out = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await program.parseAsync(['node', 'lucy', ...args]);
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
  return out.join('');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lucy-cli-apikeys-'));
  file = join(dir, 'keys.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('lucy apikeys', () => {
  it('creates a key shown once, lists it without the key, and revokes it', async () => {
    const created = JSON.parse(
      await lucy(
        '--json',
        'apikeys',
        '--archivo',
        file,
        'create',
        'guarani',
        '--permiso',
        'lucy.task.v1.TaskService/*',
      ),
    ) as { id: string; clave: string; permisos: string[] };
    expect(created.permisos).toEqual(['lucy.task.v1.TaskService/*']);
    expect(readFileSync(file, 'utf8')).not.toContain(created.clave);
    const store = createApiKeyStore(file, { recheckMs: 0 });
    expect(store.authenticate(created.clave)?.name).toBe('guarani');

    const listed = await lucy('apikeys', '--archivo', file, 'list');
    expect(listed).toContain('guarani');
    expect(listed).not.toContain(created.clave);

    expect(await lucy('apikeys', '--archivo', file, 'revoke', created.id)).toContain('revocada');
    expect(store.authenticate(created.clave)).toBeUndefined();
  });

  it('creates the admin key allowed to name staff members with --impersonar; others are not', async () => {
    const admin = JSON.parse(
      await lucy('--json', 'apikeys', '--archivo', file, 'create', 'admin', '--permiso', '*', '--impersonar'),
    ) as { clave: string; impersonar: boolean };
    const sis = JSON.parse(
      await lucy('--json', 'apikeys', '--archivo', file, 'create', 'sis', '--permiso', '*'),
    ) as { clave: string; impersonar: boolean };
    expect([admin.impersonar, sis.impersonar]).toEqual([true, false]);
    const store = createApiKeyStore(file, { recheckMs: 0 });
    expect(store.authenticate(admin.clave)?.onBehalfOf).toBe(true);
    expect(store.authenticate(sis.clave)?.onBehalfOf).toBe(false);
  });

  it('names the option and the accepted forms of a bad grant', () => {
    expect(() => parseGrants([])).toThrow(/--permiso: indique al menos uno/);
    expect(() => parseGrants(['TaskService'])).toThrow(/--permiso: "TaskService" no es válido/);
    expect(parseGrants(['*', 'lucy.log.v1.LogService/ListLogs'])).toHaveLength(2);
  });

  it('says which file to use when none is given', async () => {
    const saved = process.env.RPC_API_KEYS_FILE;
    delete process.env.RPC_API_KEYS_FILE;
    await expect(lucy('apikeys', 'list')).rejects.toThrow(/--archivo: indique el archivo de claves/);
    if (saved !== undefined) process.env.RPC_API_KEYS_FILE = saved;
  });
});
