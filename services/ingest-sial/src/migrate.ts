import { runMain, runMigrateMain } from '@lucy/platform';
import { ingestOrm } from './db/index.js';

await runMain(() => runMigrateMain({ service: 'ingest-sial', ...ingestOrm }));
