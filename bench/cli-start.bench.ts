// How long one `lucy` call takes from the shell: process start, the CLI bundle's load, argument parsing and the
// answer. Staff and scripts run the CLI one call at a time, so start-up is most of what they wait for.
//
//   node node_modules/tsx/dist/cli.mjs bench/cli-start.bench.ts [RUNS]      # from the repository root, default 30
//
// Measures `lucy --help` (no service needed) and `lucy tareas list` against a port where nothing listens (the
// whole path of an RPC verb up to the connection attempt, and its Spanish error). The bundle is built once first.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { summarize, writeResult } from './lib.js';

const ROOT = join(import.meta.dirname, '..');
const LUCY = join(ROOT, 'services', 'cli', 'bin', 'lucy.js');
const RUNS = Number(process.argv[2] ?? 30);

function time(args: string[], env: Record<string, string> = {}): { ms: number; status: number | null } {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [LUCY, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, status: r.status };
}

// Build the bundle when stale, outside the measurement.
const warm = time(['--help']);
if (warm.status !== 0) throw new Error('lucy --help failed; run it by hand to see why');

const help: number[] = [];
const rpc: number[] = [];
const unreachable = { LUCY_TRACKER_URL: 'http://127.0.0.1:9', LUCY_TOKEN: 'bench' };
let rpcStatus: number | null = null;
for (let i = 0; i < RUNS; i++) {
  help.push(time(['--help']).ms);
  const r = time(['tareas', 'list'], unreachable);
  rpc.push(r.ms);
  rpcStatus = r.status;
}

writeResult('cli-start', {
  runs: RUNS,
  target: 'p50 < 300 ms',
  help: summarize(help),
  rpcVerbUnreachable: { ...summarize(rpc), exitStatus: rpcStatus },
});
