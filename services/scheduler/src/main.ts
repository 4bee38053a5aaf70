import { onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { createScheduler } from './scheduler.js';

await runMain(async () => {
  const scheduler = await createScheduler(loadConfig());
  onShutdown(scheduler.logger, [['scheduler', () => scheduler.stop()]]);
});
