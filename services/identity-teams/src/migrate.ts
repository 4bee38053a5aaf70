import { runMain, runMigrateMain } from '@lucy/platform';
import { identityOrm } from './db/index.js';

await runMain(() => runMigrateMain({ service: 'identity-teams', ...identityOrm }));
