import { createApiKey, revokeApiKey } from '../src/api-keys.js';

// A separate process editing the keys file as `lucy apikeys` does: waits for the start time (so several
// processes edit at once), then creates `count` keys or revokes one id.
const [file, action, arg, startAt] = process.argv.slice(2) as [string, string, string, string];
while (Date.now() < Number(startAt)) {
  /* spin until the common start */
}
if (action === 'create') for (let i = 0; i < Number(arg); i++) createApiKey(file, 'sis-guarani', ['*']);
else if (!revokeApiKey(file, arg)) process.exit(2);
