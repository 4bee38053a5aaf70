// The soak: the fault suite for SOAK_MINUTES (default 60) of faults and workload, with a random seed (SOAK_SEED
// replays one), a fault every ~30 s (every kind once per round, the order drawn from the seed), identity-teams and
// every other service with their production settings. Writes faults/results/soak-<seed>.json and prints a summary
// for docs/benchmarks.md. Exits 1 when an invariant failed (the run's folder is then kept).
//
//   SOAK_MINUTES=60 node node_modules/tsx/dist/cli.mjs faults/src/soak.ts      (from the repository root)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_FAULTS, runFaultSuite, type SuiteReport } from './suite.js';

const minutes = Number(process.env.SOAK_MINUTES ?? 60);
const seed = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const windowMs = Math.round(minutes * 60_000);
const rounds = Math.max(1, Math.round(windowMs / (ALL_FAULTS.length * 30_000)));
const dir = mkdtempSync(join(tmpdir(), `lucy-soak-${seed}-`));
const load0 = loadavg()[0]!;
process.stderr.write(
  `[soak] ${minutes} min, seed ${seed}, ${rounds} rounds of ${ALL_FAULTS.length} faults; data in ${dir}\n`,
);

const report = await runFaultSuite({
  seed,
  dir,
  faultWindowMs: windowMs,
  rounds,
  sialSize: Number(process.env.SOAK_SIAL_SIZE ?? 300),
  scheduleEverySeconds: 30,
  outageMs: 10_000,
  drainTimeoutMs: 900_000,
  recoveryTimeoutMs: 300_000,
  stepMs: 3_000,
});

const pct = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const secs = (ms: number) => Math.round(ms / 100) / 10;

function summary(r: SuiteReport): string {
  const rec = r.faults.filter((f) => f.recoveryMs !== undefined).map((f) => f.recoveryMs!);
  const byKind = new Map<string, number[]>();
  for (const f of r.faults)
    byKind.set(f.kind, [
      ...(byKind.get(f.kind) ?? []),
      ...(f.recoveryMs === undefined ? [] : [f.recoveryMs]),
    ]);
  const lines = [
    `seed ${r.seed}; ${minutes} min of faults (${r.startedAt} – ${r.finishedAt}); start-up ${secs(r.startupMs)} s, drain ${secs(r.drainMs)} s; ` +
      `${cpus().length} cores, load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end`,
    `tasks: ${r.tasks.total} Tareas — ${Object.entries(r.tasks.byTipo)
      .map(
        ([t, e]) =>
          `${t} ${Object.entries(e)
            .map(([k, n]) => `${n} ${k}`)
            .join(', ')}`,
      )
      .join('; ')}`,
    `workload: ${Object.entries(r.workload)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `faults: ${r.faults.length} — ${[...byKind.keys()].map((k) => `${k} ×${r.faults.filter((f) => f.kind === k).length}`).join(', ')}`,
    `recovery: p50 ${secs(pct(rec, 50))} s, p99 ${secs(pct(rec, 99))} s, max ${secs(Math.max(...rec))} s over ${rec.length}/${r.faults.length} faults`,
    ...[...byKind].map(([k, v]) => `  ${k}: p50 ${secs(pct(v, 50))} s, max ${secs(Math.max(...v))} s`),
    'invariants:',
    ...r.invariants.map((i) => `  ${i.ok ? 'held' : 'FAILED'} — ${i.name}: ${i.detail}`),
    'RSS (MB, start → end; restarts):',
    ...r.rss.map((s) => `  ${s.name}: ${s.startMb} → ${s.endMb} (${s.restarts} restarts)`),
  ];
  return lines.join('\n');
}

const results = join(import.meta.dirname, '..', 'results');
mkdirSync(results, { recursive: true });
writeFileSync(
  join(results, `soak-${seed}.json`),
  `${JSON.stringify({ minutes, rounds, ...report }, null, 2)}\n`,
);
const text = summary(report);
writeFileSync(join(results, `soak-${seed}.txt`), `${text}\n`);
process.stdout.write(`${text}\n`);
const ok = report.invariants.every((i) => i.ok);
if (ok) rmSync(dir, { recursive: true, force: true });
else process.stderr.write(`[soak] an invariant failed; data and logs kept in ${dir}\n`);
process.exit(ok ? 0 : 1);
