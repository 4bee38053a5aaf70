import { createRpcClient, announceTasks } from '@lucy/platform';
import { SchedulerService } from '@lucy/proto';
import type { Client } from '@connectrpc/connect';
import {
  createTestDatabase,
  createTestNats,
  TEST_TOKEN,
  testEnv,
  testLogger,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { loadConfig } from '../src/config.js';
import { createScheduler, type Scheduler, type SchedulerOptions } from '../src/scheduler.js';

/** Isolated infrastructure for one test file: a database and a NATS prefix with the registry announced. */
export interface Infra {
  db: TestDatabase;
  nats: TestNats;
  cleanup(): Promise<void>;
}

/** Creates a database and a prefix, and announces the ingest and tracker tasks as those services would. */
export async function createInfra(): Promise<Infra> {
  const db = await createTestDatabase('scheduler_test');
  const nats = await createTestNats();
  await announceTasks(nats.buckets.registry, 'ingest-sial');
  await announceTasks(nats.buckets.registry, 'task-tracker');
  return {
    db,
    nats,
    async cleanup() {
      await nats.cleanup();
      await db.drop();
    },
  };
}

/** Environment of a replica on the infrastructure. */
export function replicaEnv(infra: Infra, overrides: Record<string, string> = {}): Record<string, string> {
  return testEnv({
    DATABASE_URL: infra.db.url,
    LUCY_PREFIX: infra.nats.prefix,
    MIGRATE_ON_START: 'true',
    SCHEDULER_LEASE_TTL_MS: '2000',
    SCHEDULER_TICK_MAX_MS: '200',
    ...overrides,
  });
}

/** An in-process replica with an RPC client. */
export interface Replica {
  scheduler: Scheduler;
  client: Client<typeof SchedulerService>;
  stop(): Promise<void>;
}

/** Starts an in-process replica (optionally with an injected clock). */
export async function startReplica(
  infra: Infra,
  options: SchedulerOptions & { env?: Record<string, string> } = {},
): Promise<Replica> {
  const scheduler = await createScheduler(
    loadConfig(
      replicaEnv(infra, { INSTANCE_ID: `inproc-${Math.random().toString(36).slice(2, 8)}`, ...options.env }),
    ),
    { logger: testLogger('scheduler'), ...options },
  );
  const client = createRpcClient(SchedulerService, { baseUrl: scheduler.rpc.url, token: TEST_TOKEN });
  return { scheduler, client, stop: () => scheduler.stop() };
}

/** A clock `offsetMs` ahead of (or behind) the real one: timers stay real, the scheduler's "now" moves. */
export function offsetClock(offsetMs: number): () => Date {
  return () => new Date(Date.now() + offsetMs);
}

/** Fields of a crontab schedule in a test; those left out are `*`, the zone America/Argentina/Cordoba. */
export interface CrontabFields {
  id?: string;
  minute?: string;
  hour?: string;
  dayOfWeek?: string;
  dayOfMonth?: string;
  monthOfYear?: string;
  timezone?: string;
}

/** A crontab schedule message (for SaveSchedule or Preview) from the fields a test cares about. */
export function crontabSchedule(fields: CrontabFields) {
  return {
    kind: {
      case: 'crontab' as const,
      value: {
        minute: '*',
        hour: '*',
        dayOfWeek: '*',
        dayOfMonth: '*',
        monthOfYear: '*',
        timezone: 'America/Argentina/Cordoba',
        ...fields,
      },
    },
  };
}
