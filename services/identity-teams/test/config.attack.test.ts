/**
 * CheckDeletion against the deletion itself, on the real NATS and Postgres: whatever CheckDeletion allows, the
 * deletion worker must not refuse. A UPN the guard's prefix accepts but the deletion command cannot carry (SIAL's
 * e-mail with an accented letter or a stray space: the command's field rules refuse it before the worker runs) was
 * «permitida», and the alumno would be deleted with its accounts left behind.
 *
 * And a Graph client secret stored while the deployment signs in with a certificate: nothing would read it, yet it
 * was accepted, shown as «configurado» and logged as «reemplazado».
 */
import { generateClientCertificate } from '@lucy/fake-graph';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, startHarness, type Harness } from './harness.js';
import { rejectionOf } from './support.js';

describe('CheckDeletion and the Graph client secret, attacked', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ label: 'identity_check_deletion', aspirantes: 6 });
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('refuses a UPN the deletion command cannot carry, as the worker does', async () => {
    const cuentas = new Set(
      (await h.identity.listCuentas({ page: { pageSize: 500 } })).cuentas.map((c) => c.alumnoId),
    );
    const sinCuenta = h.alumnos.filter((a) => !cuentas.has(a.id));
    expect(sinCuenta.length).toBeGreaterThanOrEqual(2);
    const cases = [
      { alumno: sinCuenta[0]!, upn: `test-josé${sinCuenta[0]!.dni}@${DOMAIN}` },
      { alumno: sinCuenta[1]!, upn: ` test-${sinCuenta[1]!.dni}@${DOMAIN}` },
    ];
    for (const { alumno, upn } of cases) {
      await h.ingest.knex.raw(`update ingest.alumno set email_institucional = ? where id = ?`, [
        upn,
        alumno.id,
      ]);
      // What the deletion does with it: the worker refuses the command.
      const { taskId } = await h.identity.deleteExternalAccount({
        alumnoId: alumno.id,
        requestedBy: 'ana',
        motivo: 'baja',
      });
      const outcome = await h.waitOutcome(taskId);
      expect(outcome.kind, upn).toBe('failed');
      // So CheckDeletion must not allow it.
      const verdict = await h.identity.checkDeletion({ alumnoId: alumno.id });
      expect(verdict.permitida, upn).toBe(false);
      expect(verdict.upn).toBe(upn);
      expect(verdict.motivo).toContain('upn');
    }
    // A plain test- UPN is still allowed.
    const ok = sinCuenta[2] ?? sinCuenta[0]!;
    await h.ingest.knex.raw(`update ingest.alumno set email_institucional = ? where id = ?`, [
      `test-${ok.dni}@${DOMAIN}`,
      ok.id,
    ]);
    expect(await h.identity.checkDeletion({ alumnoId: ok.id })).toMatchObject({
      permitida: true,
      motivo: '',
    });
  }, 90_000);

  it('refuses a Graph client secret while the deployment signs in with a certificate (nothing would read it)', async () => {
    const { key, cert } = await generateClientCertificate();
    await h.restart({
      GRAPH_CLIENT_SECRET: undefined,
      GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY: `${key}\n${cert}`,
    });
    const before = (await h.identity.getConfiguracionIdentidad({})).configuracion;
    expect(before?.graphUsaCertificado).toBe(true);
    const err = await rejectionOf(
      h.identity.updateConfiguracionIdentidad({ graphClientSecret: 'g~nuevo-secreto-1', requestedBy: 'ana' }),
    );
    expect(err.message).toContain('graph_client_secret');
    expect(err.message).toContain('certificado');
    expect(err.message).not.toContain('g~nuevo-secreto-1');
    const row = await h.ingest.knex.raw<{ rows: { sealed: string | null }[] }>(
      'select graph_client_secret_sealed as sealed from identity.configuracion',
    );
    expect(row.rows.every((r) => r.sealed === null)).toBe(true);
    expect((await h.identity.getConfiguracionIdentidad({})).configuracion?.graphClientSecretConfigurado).toBe(
      false,
    );
    // The other settings still change.
    await h.identity.updateConfiguracionIdentidad({ loteMaximo: 77, requestedBy: 'ana' });
    expect((await h.identity.getConfiguracionIdentidad({})).configuracion?.loteMaximo).toBe(77);
  }, 60_000);
});
