import { runMain, runMigrateMain } from '@lucy/platform';
import { notifierOrm } from './db/index.js';

await runMain(() => runMigrateMain({ service: 'notifier', ...notifierOrm }));
