import { onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { startTracker } from './tracker.js';

await runMain(async () => {
  const tracker = await startTracker(loadConfig());
  onShutdown(tracker.logger, [['task-tracker', () => tracker.stop()]]);
});
