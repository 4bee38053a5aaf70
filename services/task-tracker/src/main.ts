import { initTelemetry, onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { startTracker } from './tracker.js';

await initTelemetry({ service: 'task-tracker', resolveFrom: [import.meta.url] });
await runMain(async () => {
  const tracker = await startTracker(loadConfig());
  onShutdown(tracker.logger, [['task-tracker', () => tracker.stop()]]);
});
