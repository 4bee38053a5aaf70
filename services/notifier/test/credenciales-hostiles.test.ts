/**
 * Hostile requests to UpdateConfiguracionCorreo, against the real NATS, Postgres and an SMTP relay with AUTH: a
 * password sent with the wrong JSON type (a numeric password as a JSON number, as a careless client sends it) is
 * refused by the framework's decoding, whose error names the field and the value received; neither the answer nor
 * any service log line may carry that value, and nothing is stored. Also: NUL, control characters, half a
 * surrogate pair and oversized values are refused without an echo, and the start line names where the SMTP login
 * comes from (its former key, `smtpCredentials`, was redacted as a secret).
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { captureLogger, TEST_TOKEN } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

const { logger, text: logged } = captureLogger('notifier', 'debug');
let h: Harness;

beforeAll(async () => {
  h = await startHarness('notifier_smtp_hostile', {
    logger,
    env: { LUCY_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`, LUCY_SECRET_KEY_ID: 'k1' },
    sink: { auth: { user: 'notificador@fce.unrc.edu.ar', password: 'Relay#1' } },
  });
}, 30_000);
afterAll(async () => {
  await h?.stop();
});

async function postJson(body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${h.service.rpc.url}/lucy.notify.v1.NotifierService/UpdateConfiguracionCorreo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
    body,
  });
  return { status: res.status, text: await res.text() };
}

describe('UpdateConfiguracionCorreo with hostile input', () => {
  it('the start line says where the SMTP login comes from (not redacted as if it were a secret)', () => {
    const started = logged()
      .split('\n')
      .find((l) => l.includes('"notifier started"'));
    expect(started).toContain('"smtpLoginOrigin":"none"');
  });

  it('a password of the wrong JSON type is refused without echoing it in the answer or a log line', async () => {
    const numeric = '8675309421'; // a safe integer: JSON.parse keeps every digit
    const answer = await postJson(
      `{"usuario":"notificador@fce.unrc.edu.ar","password":${numeric},"requestedBy":"admin.correo"}`,
    );
    expect(answer.status).toBe(400);
    expect(answer.text).not.toContain(numeric);
    const bool = await postJson(`{"usuario":"u","password":true,"requestedBy":"admin.correo"}`);
    expect(bool.status).toBe(400);
    // The refusal is logged (method, code), the value never.
    await new Promise((r) => setTimeout(r, 100));
    expect(logged()).toContain('UpdateConfiguracionCorreo');
    expect(logged()).not.toContain(numeric);
    expect(logged()).not.toMatch(/password from JSON: expected string, got true/);
    expect((await h.notifier.getConfiguracionCorreo({})).configuracion?.passwordConfigurada).toBe(false);
  });

  it('NUL, control characters and oversized values are refused as InvalidArgument, never echoed, never stored', async () => {
    const marker = 'Zq9-secreto-hostil';
    const cases = [
      { usuario: 'u@x', password: `${marker}\u0000`, requestedBy: 'admin.correo' },
      { usuario: 'u@x', password: `${marker}\r\nRSET`, requestedBy: 'admin.correo' },
      { usuario: 'u@x', password: marker, requestedBy: 'admin\u0000correo' },
      { usuario: 'u\u0000x', password: marker, requestedBy: 'admin.correo' },
      { usuario: 'u@x', password: marker.repeat(200), requestedBy: 'admin.correo' },
    ];
    for (const c of cases) {
      const err = await h.notifier.updateConfiguracionCorreo(c).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code, JSON.stringify(c).slice(0, 80)).toBe(Code.InvalidArgument);
      expect(err?.message).not.toContain(marker);
    }
    // Half of a surrogate pair (JSON can carry it, UTF-8 cannot): sealed, it would turn into U+FFFD and the relay
    // would get another password than the one typed.
    const lone = await postJson(
      `{"usuario":"u@x","password":"${marker}\\ud800","requestedBy":"admin.correo"}`,
    );
    expect(lone.status, lone.text).toBe(400);
    expect(lone.text).toContain('invalid_argument');
    expect(lone.text).not.toContain(marker);
    // Over the RPC size limit: refused before decoding, the value nowhere.
    const huge = await postJson(
      JSON.stringify({ usuario: 'u@x', password: marker.repeat(400_000), requestedBy: 'admin.correo' }),
    );
    expect(huge.status).toBeGreaterThanOrEqual(400);
    expect(huge.text).not.toContain(marker);
    expect(logged()).not.toContain(marker);
    const row = await h.service.knex.raw<{ rows: unknown[] }>('select * from notify.configuracion');
    expect(row.rows).toEqual([]);
  });
});
