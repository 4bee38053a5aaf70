/** The standalone runner every fake's `main.ts` uses: start, one JSON start line, signal shutdown, exit codes. */
import { FakeConfigError } from './errors.js';

/** Something {@link runFake} can stop. */
export interface Closable {
  close(): Promise<void>;
}

/** Options of {@link runFake}. */
export interface RunFakeOptions<T extends Closable> {
  /** The faked system as people call it (`Graph`, `SMTP`); log messages read `fake {name} listening`. */
  name: string;
  /**
   * Reads the configuration and starts the fake. Read the environment here (with `intEnv`...), not before:
   * a {@link FakeConfigError} thrown here is what exits with code 2.
   */
  start: () => Promise<T>;
  /** Fields of the start line besides `level` and `msg` (URLs, where a credential comes from; never a secret). */
  describe: (fake: T) => Record<string, unknown>;
}

const line = (entry: Record<string, unknown>): string => JSON.stringify(entry);

/**
 * Runs a fake as a process: starts it and logs `{"level":"info","msg":"fake {name} listening",…describe}` on
 * stdout; on the first SIGTERM or SIGINT closes it, logs `fake {name} stopped` and exits 0 (1, with
 * `fake {name} failed to stop` on stderr, when closing fails). A {@link FakeConfigError} from `start` is logged as
 * one JSON line on stderr and exits 2; any other error from `start` rejects the returned promise unchanged, as an
 * unguarded top-level `await` would.
 * @returns the running fake.
 */
export async function runFake<T extends Closable>(options: RunFakeOptions<T>): Promise<T> {
  const { name } = options;
  let fake: T;
  try {
    fake = await options.start();
  } catch (err) {
    if (!(err instanceof FakeConfigError)) throw err;
    console.error(line({ level: 'error', msg: err.message, ...err.fields }));
    process.exit(2);
  }
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    fake.close().then(
      () => {
        console.log(line({ level: 'info', msg: `fake ${name} stopped`, signal }));
        process.exit(0);
      },
      (err: unknown) => {
        console.error(line({ level: 'error', msg: `fake ${name} failed to stop`, error: String(err) }));
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // Only now: supervisors and tests take this line as ready, and may stop the fake as soon as they read it.
  console.log(line({ level: 'info', msg: `fake ${name} listening`, ...options.describe(fake) }));
  return fake;
}
