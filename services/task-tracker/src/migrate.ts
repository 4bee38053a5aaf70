import { runMain, runMigrateMain } from '@lucy/platform';
import { trackerOrm } from './db/index.js';

await runMain(() => runMigrateMain({ service: 'task-tracker', ...trackerOrm }));
