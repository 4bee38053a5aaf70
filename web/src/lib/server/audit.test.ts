import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createTestDatabase, type TestDatabase } from '@lucy/testkit';
import { createAudit } from './audit.js';
import { createWebOrm, migrateWeb } from './db/orm.js';

describe('the audit trail against the real Postgres', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await createTestDatabase('web_audit_test');
    orm = await createWebOrm(db.url, 2);
    await migrateWeb(orm);
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('records who, when, what and from where, and filters by actor, action and date, newest first', async () => {
    let now = Date.parse('2026-12-01T12:00:00Z');
    const audit = createAudit(orm, () => new Date(now));
    for (let i = 0; i < 7; i++) {
      now += 3_600_000;
      await audit.record({
        actor: i % 2 ? 'ana' : 'beto',
        ip: `10.0.0.${i}`,
        action: i < 5 ? 'tarea.reintentar' : 'usuario.crear',
        target: `t${i}`,
        detalles: { i },
      });
    }
    const ana = await audit.list({ actor: 'ana' });
    expect(ana.entries.map((e) => e.target)).toEqual(['t5', 't3', 't1']);
    expect(ana.entries[0]).toMatchObject({ ip: '10.0.0.5', action: 'usuario.crear', detalles: { i: 5 } });
    expect((await audit.list({ action: 'usuario.crear' })).entries.map((e) => e.target)).toEqual([
      't6',
      't5',
    ]);
    const window = await audit.list({
      desde: new Date('2026-12-01T14:30:00Z'),
      hasta: new Date('2026-12-01T16:30:00Z'),
    });
    expect(window.entries.map((e) => e.target)).toEqual(['t3', 't2']);
    expect(await audit.actions()).toEqual(['tarea.reintentar', 'usuario.crear']);
  });

  it('pages with a keyset cursor without repeating or skipping an entry', async () => {
    const audit = createAudit(orm, () => new Date('2026-12-02T00:00:00Z'));
    for (let i = 0; i < 5; i++)
      await audit.record({ actor: 'paginador', ip: '', action: 'x', target: `p${i}` });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await audit.list({ actor: 'paginador', limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.entries.map((e) => e.target));
      cursor = page.next;
    } while (cursor);
    expect(seen.sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });
});
