import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnv, platformEnvShape, portVar, z } from './config.js';
import { ConfigError } from './errors.js';

const schema = z.object({ ...platformEnvShape, RPC_PORT: portVar(7101) });

describe('configuration', () => {
  it('parses a valid environment with defaults into a frozen object', () => {
    const c = parseEnv(schema, { RPC_TOKEN: 'a-long-enough-token' });
    expect(c.NATS_URL).toBe('nats://127.0.0.1:4222');
    expect(c.RPC_PORT).toBe(7101);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names a missing variable and what it expects, in one line', () => {
    let err: ConfigError | undefined;
    try {
      parseEnv(schema, {});
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(/^Invalid configuration: RPC_TOKEN: .*expected the bearer token/);
    expect(err!.message).not.toContain('\n');
  });

  it('names each wrong variable', () => {
    expect(() =>
      parseEnv(schema, { RPC_TOKEN: 'a-long-enough-token', NATS_URL: 'http://x', RPC_PORT: '99999' }),
    ).toThrow(/NATS_URL: must be a comma-separated list.*RPC_PORT: .*expected a TCP port/);
  });

  it('stops a service with exit code 78 and one line on stderr', () => {
    const tsx = join(import.meta.dirname, '..', '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const r = spawnSync(process.execPath, [tsx, 'test/fixtures-config-main.ts'], {
      cwd: join(import.meta.dirname, '..'),
      env: { PATH: process.env.PATH, DATABASE_URL: 'mysql://nope' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(78);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/DATABASE_URL: must be a postgres or postgresql URL/);
    expect(lines[0]).toMatch(/RPC_TOKEN/);
  });
});
