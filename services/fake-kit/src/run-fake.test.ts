import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const fixture = join(import.meta.dirname, '..', 'test', 'fixtures', 'run-fake.fixture.ts');

interface Run {
  code: number | null;
  lines: Record<string, unknown>[];
  stdout: string;
  stderr: string;
}

/** Starts the fixture as a real process; `signal` is sent once it logs that it listens. */
async function run(env: Record<string, string>, signal?: NodeJS.Signals): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: import.meta.dirname,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    // Once: a second signal would find the handlers gone and kill the process before it exits on its own.
    if (signal && !signalled && stdout.includes('listening')) signalled = child.kill(signal);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  const lines = `${stdout}${stderr}`
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines, stdout, stderr };
}

describe('runFake', () => {
  it('logs one start line, then stops on SIGTERM and exits 0', async () => {
    const result = await run({}, 'SIGTERM');
    expect(result.code, result.stderr).toBe(0);
    const [started, stopped, ...rest] = result.lines;
    expect(started).toEqual({ level: 'info', msg: 'fake Fixture listening', url: started?.url });
    expect(started?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stopped).toEqual({ level: 'info', msg: 'fake Fixture stopped', signal: 'SIGTERM' });
    expect(rest).toEqual([]);
  });

  it('stops on SIGINT too', async () => {
    const result = await run({}, 'SIGINT');
    expect(result.code, result.stderr).toBe(0);
    expect(result.lines.at(-1)).toEqual({ level: 'info', msg: 'fake Fixture stopped', signal: 'SIGINT' });
  });

  it('exits 1 with an error line when the fake fails to close', async () => {
    const result = await run({ FIXTURE_MODE: 'bad-close' }, 'SIGTERM');
    expect(result.code).toBe(1);
    expect(result.lines.at(-1)).toEqual({
      level: 'error',
      msg: 'fake Fixture failed to stop',
      error: 'Error: close failed on purpose',
    });
  });

  it('exits 2 naming the variable when the configuration is invalid', async () => {
    const result = await run({ FIXTURE_PORT: 'no-es-un-puerto' });
    expect(result.code).toBe(2);
    // Exactly one line, on stderr: the deploy probes and log collectors read it as the reason.
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.lines).toEqual([
      { level: 'error', msg: 'FIXTURE_PORT must be a non-negative integer', value: 'no-es-un-puerto' },
    ]);
  });

  it('leaves other start failures to the process, as an unguarded top-level await would', async () => {
    const result = await run({ FIXTURE_MODE: 'crash' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('start failed on purpose');
  });
});
