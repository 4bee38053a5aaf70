// Shared helpers of the benchmark scripts: timing, percentiles, resource sampling, result files.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Percentile (0–100) of a list of numbers, by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Summary statistics of latencies in ms. */
export function summarize(values: readonly number[]): {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
} {
  return {
    n: values.length,
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    p99: round(percentile(values, 99)),
    max: round(Math.max(...values)),
  };
}

/** Rounds to 2 decimals. */
export function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Samples this process's RSS and CPU while a function runs; returns peak RSS (MB) and CPU % of one core. */
export async function withResources<T>(
  fn: () => Promise<T>,
  intervalMs = 100,
): Promise<{ result: T; peakRssMb: number; cpuPercent: number; seconds: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, intervalMs);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    const result = await fn();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    peak = Math.max(peak, process.memoryUsage().rss);
    return {
      result,
      peakRssMb: round(peak / 1024 / 1024),
      cpuPercent: round(((cpu.user + cpu.system) / 1e6 / seconds) * 100),
      seconds: round(seconds),
    };
  } finally {
    clearInterval(timer);
  }
}

/** The machine, for the record next to each result. */
export function machine(): Record<string, unknown> {
  return {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGb: round(totalmem() / 1024 ** 3),
    loadavg1: round(loadavg()[0]!),
  };
}

/** Writes a result as JSON under bench/results/ and prints it. */
export function writeResult(name: string, result: Record<string, unknown>): void {
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const body = { benchmark: name, at: new Date().toISOString(), machine: machine(), ...result };
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(body, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
}

const ROOT = join(import.meta.dirname, '..');
let built = false;

/**
 * How a benchmark starts a service process: as production does (deploy/Dockerfile) — compiled by
 * `scripts/build.mjs` and run with `node --conditions=lucy-dist dist/<script>.js` — or, with
 * `SERVICE_RUNTIME=tsx`, from the TypeScript sources through the tsx loader as `npm run up` does. Builds the
 * workspace once per benchmark process. Returns node's arguments for `script` (`main`, `migrate`).
 */
export function serviceNodeArgs(script: string, extraNodeArgs: readonly string[] = []): string[] {
  if (process.env.SERVICE_RUNTIME === 'tsx') {
    const loader = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
    return [...extraNodeArgs, '--import', loader, `src/${script}.ts`];
  }
  if (!built) {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'ignore' });
    built = true;
  }
  return [...extraNodeArgs, '--conditions=lucy-dist', '--enable-source-maps', `dist/${script}.js`];
}

/** The runtime {@link serviceNodeArgs} uses, for result files. */
export const serviceRuntime = (): string =>
  process.env.SERVICE_RUNTIME === 'tsx' ? 'tsx (TypeScript sources)' : 'compiled (scripts/build.mjs)';

/**
 * Node's arguments to run a benchmark-side TypeScript script (e.g. `pipeline-worker.ts`) in a process of its own:
 * through the tsx loader, with the workspace packages it imports compiled (`lucy-dist`, as {@link serviceNodeArgs}
 * runs services) unless `SERVICE_RUNTIME=tsx`.
 */
export function benchScriptNodeArgs(script: string, extraNodeArgs: readonly string[] = []): string[] {
  const loader = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  if (process.env.SERVICE_RUNTIME === 'tsx') return [...extraNodeArgs, '--import', loader, script];
  serviceNodeArgs('main'); // builds dist/ once
  return [...extraNodeArgs, '--conditions=lucy-dist', '--import', loader, script];
}

/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK; 100 on Linux x86-64 and arm64). */
const CLK_TCK = 100;

/** RSS (kB) and CPU ticks (utime + stime) of one process, from /proc; undefined when it is gone. */
export function procSample(pid: number): { rssKb: number; cpuTicks: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime 14 and stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { rssKb, cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** A process and, transitively, its children (Celery's prefork pool), from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // Exited meanwhile.
    }
  }
  return [...new Set(out)];
}

/**
 * Meters the CPU and peak RSS of a process tree between `start()` and `stop()`: CPU as % of one core over the
 * interval, peak RSS (sum over the tree) sampled every 100 ms.
 */
export function processMeter(pid: number): {
  start(): void;
  stop(): { cpuPercent: number; peakRssMb: number; seconds: number };
} {
  let timer: NodeJS.Timeout | undefined;
  let peakKb = 0;
  let t0 = 0;
  const ticks = new Map<number, number>();
  const sample = () => {
    let rss = 0;
    for (const p of processTree(pid)) {
      const s = procSample(p);
      if (!s) continue;
      rss += s.rssKb;
      // A process born during the run (a pool child) counts from 0: all its CPU is the run's.
      ticks.set(p, Math.max(ticks.get(p) ?? 0, s.cpuTicks));
    }
    peakKb = Math.max(peakKb, rss);
  };
  let base = new Map<number, number>();
  return {
    start() {
      t0 = performance.now();
      base = new Map(processTree(pid).map((p) => [p, procSample(p)?.cpuTicks ?? 0]));
      for (const [p, v] of base) ticks.set(p, v);
      timer = setInterval(sample, 100);
      sample();
    },
    stop() {
      sample();
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      let used = 0;
      for (const [p, v] of ticks) used += v - (base.get(p) ?? 0);
      return {
        cpuPercent: round((used / CLK_TCK / seconds) * 100),
        peakRssMb: round(peakKb / 1024),
        seconds: round(seconds),
      };
    },
  };
}
