import { onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { startIngestService } from './service.js';

await runMain(async () => {
  const service = await startIngestService(loadConfig());
  onShutdown(service.logger, [['ingest-sial', () => service.stop()]]);
});
