/** The vault on a real Postgres: sealed at rest, bound to its row, and re-sealed after a key rotation. */
import { randomBytes } from 'node:crypto';
import { createOrm, createSecretBox, migrate, type MikroORM } from '@lucy/platform';
import { createTestDatabase, testLogger, type TestDatabase } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVault, identityOrm } from '../src/db/index.js';

describe('the credential vault', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const alumnoId = '0190f0f0-0000-7000-8000-0000000000aa';

  beforeAll(async () => {
    db = await createTestDatabase('identity_vault');
    orm = await createOrm({ ...identityOrm, url: db.url, logger: testLogger() });
    await migrate(orm, identityOrm.schema);
  });

  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('stores passwords sealed with the current key and re-seals them after a rotation', async () => {
    const knex = orm.em.getKnex();
    const clock = () => new Date();
    const old = createVault({ knex, box: createSecretBox({ keys: { k1 }, currentKeyId: 'k1' }), clock });
    const stored = await old.store({
      alumnoId,
      upn: 'test-a1@x.edu.ar',
      origen: 'creacion',
      taskId: '0190f0f0-0000-7000-8000-0000000000ab',
      password: 'Clave#Temporal-234',
    });
    expect(stored.sealed).toMatch(/^v2:k1:/);
    expect(stored.sealed).not.toContain('Clave#Temporal-234');
    expect(stored.ref).toMatch(/^cred_/);

    // A sealed value moved to another alumno's row does not open.
    const moved = { ...stored, alumno_id: '0190f0f0-0000-7000-8000-0000000000ac' };
    expect(() => old.open(moved)).toThrow(/does not authenticate/);

    const rotated = createVault({
      knex,
      box: createSecretBox({ keys: { k2, k1 }, currentKeyId: 'k2' }),
      clock,
    });
    expect(await rotated.resealAll()).toBe(1);
    expect(await rotated.resealAll()).toBe(0);
    const row = (await rotated.get(stored.id))!;
    expect(row.key_id).toBe('k2');
    expect(row.sealed).toMatch(/^v2:k2:/);
    // The old key can leave the keyring now.
    const onlyNew = createVault({ knex, box: createSecretBox({ keys: { k2 }, currentKeyId: 'k2' }), clock });
    expect(onlyNew.open(row)).toBe('Clave#Temporal-234');
  });
});
