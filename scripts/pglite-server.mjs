#!/usr/bin/env node
// The embedded database of `npm run up` when no Postgres is available: PGlite (Postgres compiled to WASM)
// served over the Postgres wire protocol, with the contrib extensions the services' migrations create
// (pglite-server's own CLI loads none, so `create extension pg_trgm` failed there).
// Usage: node scripts/pglite-server.mjs --db=<dir> --port=<port> [--host=127.0.0.1] [--max-connections=40]
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { unaccent } from '@electric-sql/pglite/contrib/unaccent';
import { uuid_ossp } from '@electric-sql/pglite/contrib/uuid_ossp';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    port: { type: 'string', default: '5433' },
    host: { type: 'string', default: '127.0.0.1' },
    'max-connections': { type: 'string', default: '40' },
  },
});
if (!values.db) {
  console.error('pglite-server: --db=<directory> is required');
  process.exit(64);
}

// Every extension a migration may create: pg_trgm today (the search indexes); the others are the ones
// services commonly reach for, loaded here so a new migration does not break the embedded mode first.
const db = await PGlite.create(values.db, { extensions: { pg_trgm, citext, pgcrypto, unaccent, uuid_ossp } });
const server = new PGLiteSocketServer({
  db,
  host: values.host,
  port: Number(values.port),
  maxConnections: Number(values['max-connections']),
});
await server.start();
console.log(`PGlite listening on ${values.host}:${values.port} (data in ${values.db})`);

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  await server.stop().catch(() => undefined);
  // Closing flushes PGlite's data directory; without it the next start may find it inconsistent.
  await db.close().catch(() => undefined);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
