/**
 * The projection of identity-teams' account events onto the alumno, against the real service, NATS and Postgres:
 * what each event sets, that email_procesado never goes back while the account lives, and that an event repeating
 * what the alumno already says writes nothing (no new row version: an adoption sends one per adopted account).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { CuentaActualizadaSchema, TipoIngesta, type CuentaExternaSchema } from '@lucy/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { waitFor } from '@lucy/testkit';
import { CONTENT_TYPE, newTraceparent, taskHeaders } from '@lucy/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alumnoTable } from '../src/db/alumno.repository.js';
import { startHarness, type Harness } from './harness.js';

describe('account events projected onto the alumno', () => {
  let h: Harness;
  let ids: string[];
  let sent = 0;

  beforeAll(async () => {
    h = await startHarness({ sizes: { preinscriptos: 1, aspirantes: 3, ingresantes: 1 } }, 'ingest_cuentas');
    await h.openWindow(TipoIngesta.ASPIRANTES);
    await h.succeeded(await h.runPeriodic('aspirantes'));
    ids = ((await alumnoTable(h.service.knex).select('id').orderBy('dni')) as { id: string }[]).map(
      (r) => r.id,
    );
  });

  afterAll(async () => {
    await h?.stop();
  });

  const publish = async (kind: string, cuenta: MessageInitShape<typeof CuentaExternaSchema>) => {
    const hdrs = taskHeaders(
      { taskId: '', taskType: '', requestedBy: 'test', trigger: 'external', traceparent: newTraceparent() },
      CONTENT_TYPE.protobuf,
    );
    await h.t.handles.js.publish(
      h.t.names.evt('cuenta', kind),
      toBinary(CuentaActualizadaSchema, create(CuentaActualizadaSchema, { cuenta })),
      { headers: hdrs, msgID: `test-cuenta-${++sent}` },
    );
  };
  interface Row {
    email_institucional: string | null;
    teams_procesado: boolean;
    moodle_procesado: boolean;
    email_procesado: boolean;
    xmin: string;
  }
  const row = async (id: string): Promise<Row> => {
    const { rows } = await h.service.knex.raw<{ rows: Row[] }>(
      `select email_institucional, teams_procesado, moodle_procesado, email_procesado, xmin::text as xmin
       from ingest.alumno where id = ?`,
      [id],
    );
    return rows[0]!;
  };
  /** Events are applied one at a time in stream order: once a later marker is applied, so is everything before. */
  let marks = 0;
  const settled = async () => {
    const upn = `marca${++marks}@fce.edu.ar`;
    await publish('activada', { alumnoId: ids[2]!, upn, estado: 'activa' });
    await waitFor(async () => ((await row(ids[2]!)).email_institucional === upn ? true : undefined), {
      what: `marker ${upn} projected`,
      timeoutMs: 20_000,
    });
  };

  it('sets the UPN and the flags, keeps email_procesado once set, and clears all on deletion', async () => {
    const id = ids[0]!;
    const upn = 'a30111223@fce.edu.ar';
    await publish('activada', {
      alumnoId: id,
      upn,
      estado: 'activa',
      graphId: 'g-1',
      moodleUsername: '30111223',
    });
    await settled();
    expect(await row(id)).toMatchObject({
      email_institucional: upn,
      teams_procesado: true,
      moodle_procesado: true,
      email_procesado: false,
    });
    await publish('email_enviado', {
      alumnoId: id,
      upn,
      estado: 'activa',
      graphId: 'g-1',
      emailEnviado: true,
    });
    await settled();
    expect((await row(id)).email_procesado).toBe(true);
    // An older snapshot (the activation's, published before the e-mail went out) arrives late: still sent.
    await publish('activada', {
      alumnoId: id,
      upn,
      estado: 'activa',
      graphId: 'g-1',
      moodleUsername: '30111223',
    });
    await settled();
    expect((await row(id)).email_procesado).toBe(true);
    await publish('eliminada', { alumnoId: id, upn, estado: 'eliminada' });
    await settled();
    expect(await row(id)).toMatchObject({
      email_institucional: null,
      teams_procesado: false,
      moodle_procesado: false,
      email_procesado: false,
    });
  });

  it('writes nothing for an event that repeats what the alumno already says', async () => {
    const id = ids[1]!;
    const cuenta = {
      alumnoId: id,
      upn: 'b@fce.edu.ar',
      estado: 'activa',
      graphId: 'g-2',
      emailEnviado: true,
    };
    await publish('activada', cuenta);
    await settled();
    const before = await row(id);
    expect(before).toMatchObject({
      email_institucional: 'b@fce.edu.ar',
      teams_procesado: true,
      email_procesado: true,
    });
    // The same record again (a redelivery, an adoption re-announcing it) and an older one without the e-mail.
    await publish('activada', cuenta);
    await publish('activada', { ...cuenta, emailEnviado: false });
    await settled();
    expect(await row(id)).toEqual(before);
    // A real change is still applied.
    await publish('activada', { ...cuenta, moodleId: 7n });
    await settled();
    const after = await row(id);
    expect(after.moodle_procesado).toBe(true);
    expect(after.xmin).not.toBe(before.xmin);
  });
});
