import { initTelemetry, onShutdown, runMain } from '@lucy/platform';
import { loadConfig } from './config.js';
import { startIngestService } from './service.js';

await initTelemetry({ service: 'ingest-sial', resolveFrom: [import.meta.url] });
await runMain(
  async () => {
    const service = await startIngestService(loadConfig());
    onShutdown(service.logger, [['ingest-sial', () => service.stop()]]);
  },
  { service: 'ingest-sial' },
);
