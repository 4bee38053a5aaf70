import { initTelemetry, onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { createScheduler } from './scheduler.js';

await initTelemetry({ service: 'scheduler', resolveFrom: [import.meta.url] });
await runMain(async () => {
  const scheduler = await createScheduler(loadConfig());
  onShutdown(scheduler.logger, [['scheduler', () => scheduler.stop()]]);
});
