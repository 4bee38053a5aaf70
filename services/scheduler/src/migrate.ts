import { runMain, runMigrateMain } from '@lucy/platform';
import { schedulerOrm } from './db/index.js';

await runMain(() => runMigrateMain({ service: 'scheduler', ...schedulerOrm }));
