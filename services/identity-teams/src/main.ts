import { initTelemetry, onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { startIdentityService } from './service.js';

await initTelemetry({ service: 'identity-teams', resolveFrom: [import.meta.url] });
await runMain(async () => {
  const service = await startIdentityService(loadConfig());
  onShutdown(service.logger, [['identity-teams', () => service.stop()]]);
});
