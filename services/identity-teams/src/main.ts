import { onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { startIdentityService } from './service.js';

await runMain(async () => {
  const service = await startIdentityService(loadConfig());
  onShutdown(service.logger, [['identity-teams', () => service.stop()]]);
});
