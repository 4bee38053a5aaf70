// Issue 19, "Performance": `lucy adoptar pylucy --aplicar` on a pylucy database of 50,000 alumnos, 200,000 Tareas
// and 500,000 Logs (the fixture's cases plus generate_series volume, Tareas and Logs spread over 80 days so all are
// in the 90-day window), then the same run again with nothing changed. The four services it imports into run as
// child processes (as in production, one database and stream prefix of their own); the CLI runs from its bundle as
// `npm run -s lucy` does, metered from /proc (peak RSS of the CLI process alone). Targets: apply < 60 s, peak
// RSS < 300 MB, re-run < 10 s.
//
//   node node_modules/tsx/dist/cli.mjs bench/adopt-pylucy.bench.ts   # ALUMNOS=50000 TAREAS=200000 LOGS=500000
//   (RESULT=<name> writes bench/results/<name>.json)
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, startAdoptionStack } from '../services/cli/test/adoptar-stack.js';
import {
  createPylucySchema,
  fillPylucy,
  fillPylucyBulk,
} from '../services/cli/test/fixtures/pylucy/generate.js';
import { processMeter, round, writeResult } from './lib.js';

const ROOT = join(import.meta.dirname, '..');
const ALUMNOS = Number(process.env.ALUMNOS ?? 50_000);
const TAREAS = Number(process.env.TAREAS ?? 200_000);
const LOGS = Number(process.env.LOGS ?? 500_000);

const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();

let cliRuns = 0;

/** The Node flags `npm run -s lucy` starts the CLI with (the root package.json's script), so both run alike. */
const CLI_NODE_FLAGS = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts
  .lucy!.split(/\s+/)
  .filter((a) => a.startsWith('--'));

async function runCli(args: string[], env: Record<string, string>) {
  const t0 = performance.now();
  // ADOPTAR_CPU_PROF=<dir>: CPU profiles of the CLI and of each service (see adoptar-stack.ts).
  const dir = process.env.ADOPTAR_CPU_PROF;
  const prof = dir
    ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=cli-${++cliRuns}.cpuprofile`]
    : [];
  const c = spawn(
    process.execPath,
    [...prof, ...CLI_NODE_FLAGS, join(ROOT, 'services/cli/bin/lucy.js'), ...args],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const meter = processMeter(c.pid!);
  meter.start();
  let stdout = '';
  let stderr = '';
  c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => c.once('exit', r));
  const m = meter.stop();
  if (code !== 0) throw new Error(`lucy ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  // The CLI's time per step.
  process.stderr.write(
    `${stderr
      .split('\n')
      .filter((l) => l.includes(' listo en '))
      .join('\n')}\n`,
  );
  return {
    seconds: round((performance.now() - t0) / 1000),
    peakRssMb: m.peakRssMb,
    cpuPercent: m.cpuPercent,
    stdout,
  };
}

const loadBefore = uptime();
process.stderr.write(`uptime: ${loadBefore}\n`);
// Build the CLI bundle first, so its build is not timed.
execFileSync(process.execPath, [join(ROOT, 'services/cli/bin/lucy.js'), '--help'], { stdio: 'ignore' });
const s = await startAdoptionStack();
try {
  const py = await connect(s.pylucy.url);
  await createPylucySchema(py);
  await fillPylucy(py);
  const g0 = performance.now();
  await fillPylucyBulk(py, { alumnos: ALUMNOS, tareas: TAREAS, logs: LOGS });
  await py.query('analyze');
  await py.end();
  // The fill's dirty pages written out now, so the checkpoint they would trigger is not charged to the apply.
  const admin = await connect(s.pylucy.url);
  await admin.query('checkpoint');
  await admin.end();
  process.stderr.write(`pylucy filled in ${round((performance.now() - g0) / 1000)} s\n`);
  const env = { ...s.cliEnv, PYLUCY_DATABASE_URL: s.pylucy.url };
  const apply = await runCli(['--json', 'adoptar', 'pylucy', '--aplicar'], env);
  const loadMid = uptime();
  const rerun = await runCli(['--json', 'adoptar', 'pylucy', '--aplicar'], env);
  const a = JSON.parse(apply.stdout) as Record<string, { creados: number; sin_cambios: number }>;
  const r = JSON.parse(rerun.stdout) as Record<string, { creados: number; sin_cambios: number }>;
  const created = (x: typeof a) =>
    Object.fromEntries(
      ['alumnos', 'cuentas', 'tareasPeriodicas', 'tareas', 'logs'].map((k) => [k, x[k]?.creados]),
    );
  writeResult(process.env.RESULT ?? 'adopt-pylucy', {
    rows: { alumnos: ALUMNOS, tareas: TAREAS, logs: LOGS },
    apply: {
      seconds: apply.seconds,
      peakRssMb: apply.peakRssMb,
      cpuPercent: apply.cpuPercent,
      created: created(a),
    },
    rerun: {
      seconds: rerun.seconds,
      peakRssMb: rerun.peakRssMb,
      cpuPercent: rerun.cpuPercent,
      created: created(r),
    },
    targets: {
      applyUnder60s: apply.seconds < 60,
      peakRssUnder300Mb: Math.max(apply.peakRssMb, rerun.peakRssMb) < 300,
      rerunUnder10s: rerun.seconds < 10,
    },
    uptime: { before: loadBefore, afterApply: loadMid, after: uptime() },
  });
} finally {
  await s.close();
}
