import type { Logger } from './logger.js';
import { flushTelemetry } from './otel.js';

/**
 * Runs the given steps in order on SIGTERM or SIGINT (graceful drain: stop consumers, close servers, drain
 * NATS, close the database), then exits. A second signal, or the timeout, exits at once.
 */
export function onShutdown(
  logger: Logger,
  steps: Array<[name: string, step: () => Promise<unknown>]>,
  timeoutMs = 45_000,
): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    void (async () => {
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (err) {
          logger.warn({ err, step: name }, 'shutdown step failed');
        }
      }
      logger.info('stopped');
      await flushTelemetry();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
