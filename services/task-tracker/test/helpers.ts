import { CONTENT_TYPE, createTaskReporter, newTraceparent, uuidv7, type TaskReporter } from '@lucy/platform';
import {
  createTestDatabase,
  createTestNats,
  testEnv,
  testLogger,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { loadConfig } from '../src/config.js';
import { projectBatch } from '../src/db/tarea.repository.js';
import { startTracker, type Tracker, type TrackerOptions } from '../src/tracker.js';

/** A tracker on its own database and stream prefix, plus a NATS connection for the test itself. */
export interface TrackerHarness {
  db: TestDatabase;
  nats: TestNats;
  tracker: Tracker;
  /** Stops the tracker and removes the database and streams. */
  close(): Promise<void>;
}

/** Starts task-tracker in-process against the real NATS and Postgres, isolated for one test file. */
export async function startHarness(
  options: TrackerOptions & { env?: Record<string, string>; databaseUrl?: (url: string) => string } = {},
): Promise<TrackerHarness> {
  const db = await createTestDatabase('tracker_test');
  const nats = await createTestNats();
  const url = options.databaseUrl ? options.databaseUrl(db.url) : db.url;
  const config = loadConfig(
    testEnv({ DATABASE_URL: url, LUCY_PREFIX: nats.prefix, MIGRATE_ON_START: 'true', ...options.env }),
  );
  const tracker = await startTracker(config, {
    stuckSweepIntervalMs: 0,
    logger: testLogger('task-tracker'),
    ...options,
  });
  return {
    db,
    nats,
    tracker,
    async close() {
      await tracker.stop();
      await nats.cleanup();
      await db.drop();
    },
  };
}

/** Rows of a query on the tracker's database. */
export async function rows<T = Record<string, unknown>>(
  h: TrackerHarness,
  sql: string,
  bindings: unknown[] = [],
): Promise<T[]> {
  const res = await h.tracker.knex.raw<{ rows: T[] }>(sql, bindings as never);
  return res.rows;
}

/** A reporter of `alumnos.tasks.crear_usuario_teams_async` task events for `taskId`, as its worker would send them. */
export function reporterFor(
  h: TrackerHarness,
  taskId: string,
  options: { attempt?: number; requestedBy?: string; clock?: () => Date } = {},
): TaskReporter {
  return createTaskReporter({
    ...(options.clock ? { clock: options.clock } : {}),
    js: h.nats.handles.js,
    names: h.nats.names,
    attempt: options.attempt ?? 1,
    worker: 'test/1',
    context: {
      taskId,
      taskType: 'alumnos.tasks.crear_usuario_teams_async',
      requestedBy: options.requestedBy ?? 'ana@fce',
      trigger: 'admin',
      traceparent: newTraceparent(),
    },
  });
}

/**
 * Projects `tareas` Tareas published at `at` (requested by `viejo`), and one Log (module `viejo`) for each of the
 * first `logs` of them, straight into the database: rows for the purge to delete.
 */
export async function seedOldTareas(
  h: TrackerHarness,
  at: Date,
  tareas: number,
  logs = tareas,
): Promise<void> {
  const ids = Array.from({ length: tareas }, () => uuidv7(at.getTime()));
  await projectBatch(
    h.tracker.knex,
    ids.map((taskId) => ({
      seq: 0,
      event: {
        kind: 'published' as const,
        taskId,
        at,
        tipo: 'enviar_email',
        subject: 'lucy.cmd.notify.enviar_email',
        parametros: {},
        payload: new Uint8Array(),
        contentType: CONTENT_TYPE.protobuf,
        taskName: 'x',
        trigger: 'admin',
        requestedBy: 'viejo',
      },
    })),
    ids.slice(0, logs).map((taskId) => ({
      id: uuidv7(at.getTime()),
      level: 'INFO',
      module: 'viejo',
      message: 'viejo',
      detalles: null,
      alumnoId: null,
      usuario: null,
      taskId,
      occurredAt: at,
    })),
  );
}
