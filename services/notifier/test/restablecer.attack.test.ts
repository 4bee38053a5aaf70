import { randomBytes } from 'node:crypto';
import { Code, ConnectError } from '@connectrpc/connect';
import { createRpcClient } from '@lucy/platform';
import { NotifierService } from '@lucy/proto';
import { captureLogger, TEST_TOKEN } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

const KEY1 = `k1:${randomBytes(32).toString('base64')}`;
const { logger } = captureLogger('notifier', 'debug');
let h: Harness;
beforeAll(async () => {
  h = await startHarness('notifier_restab_atk', {
    logger,
    env: { LUCY_SECRET_KEYS: KEY1, LUCY_SECRET_KEY_ID: 'k1' },
    sink: { auth: { user: 'u@x', password: 'p' } },
  });
}, 30_000);
afterAll(async () => {
  await h?.stop();
});

async function code(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'OK';
  } catch (err) {
    const ce = ConnectError.from(err);
    return `${Code[ce.code]}: ${ce.rawMessage.slice(0, 200)}`;
  }
}
const row = async () =>
  (
    await h.service.knex.raw<{ rows: { smtp_usuario: string | null; sealed: string | null; por: string }[] }>(
      'select smtp_usuario, smtp_password_sealed as sealed, actualizado_por as por from notify.configuracion',
    )
  ).rows[0];

describe('restablecer hostile inputs', () => {
  it('requested_by with a NUL byte + restablecer is refused as InvalidArgument (not Internal)', async () => {
    const r = await code(
      h.notifier.updateConfiguracionCorreo({
        usuario: '',
        password: '',
        restablecer: true,
        requestedBy: 'admin\u0000x',
      }),
    );
    expect(r).toMatch(/^InvalidArgument/);
  });
  it('requested_by with a NUL byte on replace is refused as InvalidArgument (not Internal)', async () => {
    const r = await code(
      h.notifier.updateConfiguracionCorreo({ usuario: 'u@x', password: 'p', requestedBy: 'admin\u0000x' }),
    );
    expect(r).toMatch(/^InvalidArgument/);
  });
  it('requested_by of 100,000 characters + restablecer: refused, or at least stored/logged bounded', async () => {
    const r = await code(
      h.notifier.updateConfiguracionCorreo({
        usuario: '',
        password: '',
        restablecer: true,
        requestedBy: 'a'.repeat(100_000),
      }),
    );
    expect(r).toMatch(/^InvalidArgument/);
  });
  it('usuario of only NUL + restablecer: refused naming restablecer, nothing stored', async () => {
    const r = await code(
      h.notifier.updateConfiguracionCorreo({
        usuario: '\u0000',
        password: '',
        restablecer: true,
        requestedBy: 'admin',
      }),
    );
    expect(r).toMatch(/^InvalidArgument/);
    expect(r).toMatch(/restablecer|usuario/);
  });
  it('concurrent restablecer + replace from two clients: row and both views agree after reload', async () => {
    const c1 = createRpcClient(NotifierService, { baseUrl: h.service.rpc.url, token: TEST_TOKEN });
    const c2 = createRpcClient(NotifierService, { baseUrl: h.service.rpc.url, token: TEST_TOKEN });
    for (let i = 0; i < 30; i++) {
      const [a, b] = await Promise.all([
        c1.updateConfiguracionCorreo({ usuario: '', password: '', restablecer: true, requestedBy: 'uno' }),
        c2.updateConfiguracionCorreo({ usuario: `u${i}@x`, password: `p${i}`, requestedBy: 'dos' }),
      ]);
      const r = await row();
      const inMem = h.service.settings.credentials;
      expect([null, `u${i}@x`]).toContain(r!.smtp_usuario);
      // in-memory view right after both answered must equal the row
      expect(inMem?.user ?? null, `iter ${i} mem vs row`).toBe(r!.smtp_usuario);
      await h.service.settings.load();
      expect(h.service.settings.credentials?.user ?? null).toBe(r!.smtp_usuario);
      // each answer must include its own write or a later one; the row's actualizado_por names the last writer
      expect(
        JSON.stringify(a.configuracion, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      ).not.toContain(`p${i}`);
      expect(
        JSON.stringify(b.configuracion, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      ).not.toContain(`p${i}`);
    }
  }, 60_000);
});
