import { initTelemetry, onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { startNotifierService } from './service.js';

await initTelemetry({ service: 'notifier', resolveFrom: [import.meta.url] });
await runMain(async () => {
  const service = await startNotifierService(loadConfig());
  onShutdown(service.logger, [['notifier', () => service.stop()]]);
});
