// A service entry point reduced to its configuration step, for the start-up error test.
import { parseEnv, platformEnvShape, runMain, z } from '../src/index.js';

await runMain(async () => {
  parseEnv(z.object(platformEnvShape));
});
