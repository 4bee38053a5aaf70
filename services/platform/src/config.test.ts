import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseEnv,
  platformEnvShape,
  portVar,
  rpcListenOptions,
  secretBoxEnvShape,
  secretBoxFromConfig,
  z,
} from './config.js';
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

describe('secret box configuration', () => {
  const k = (fill: number) => Buffer.alloc(32, fill).toString('base64');
  const shape = z.object({ ...secretBoxEnvShape });

  it('seals with the first listed key id by default and with LUCY_SECRET_KEY_ID when set', () => {
    const env = { LUCY_SECRET_KEYS: `20261207:${k(1)},1:${k(2)}` };
    const box = secretBoxFromConfig(parseEnv(shape, env));
    expect(box.currentKeyId).toBe('20261207');
    const rotated = secretBoxFromConfig(parseEnv(shape, { ...env, LUCY_SECRET_KEY_ID: '1' }));
    expect(rotated.currentKeyId).toBe('1');
    expect(rotated.open(box.seal('x', 'a:b:c'), 'a:b:c')).toBe('x');
  });

  it('names LUCY_SECRET_KEYS when it is missing or a key is not 32 bytes, without echoing the key', () => {
    expect(() => parseEnv(shape, {})).toThrow(
      /^Invalid configuration: LUCY_SECRET_KEYS: .*expected kid:base64key/,
    );
    const short = Buffer.alloc(20, 3).toString('base64');
    let message = '';
    try {
      parseEnv(shape, { LUCY_SECRET_KEYS: `k1:${short}` });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration: LUCY_SECRET_KEYS: key "k1" must be exactly 32 bytes/);
    expect(message).not.toContain(short);
  });

  it('names LUCY_SECRET_KEY_ID when it is not in the keyring', () => {
    const config = parseEnv(shape, { LUCY_SECRET_KEYS: `k1:${k(1)}`, LUCY_SECRET_KEY_ID: 'k2' });
    expect(() => secretBoxFromConfig(config)).toThrow(ConfigError);
    expect(() => secretBoxFromConfig(config)).toThrow(/LUCY_SECRET_KEY_ID: "k2" is not a key id/);
  });
});

describe('RPC listening configuration', () => {
  const base = { RPC_TOKEN: 'a-long-enough-token' };
  const listen = (env: Record<string, string>) => rpcListenOptions(parseEnv(schema, { ...base, ...env }));

  it('binds 127.0.0.1 and puts /metrics on RPC_PORT + 2000 by default', () => {
    expect(listen({})).toEqual({ port: 7101, host: '127.0.0.1', metrics: { port: 9101, host: '127.0.0.1' } });
    expect(listen({ RPC_HOST: '0.0.0.0', RPC_PORT: '7103' })).toEqual({
      port: 7103,
      host: '0.0.0.0',
      metrics: { port: 9103, host: '0.0.0.0' },
    });
  });

  it('takes METRICS_PORT and METRICS_HOST, and METRICS_PORT=0 turns /metrics off', () => {
    expect(listen({ METRICS_PORT: '9999', METRICS_HOST: '10.0.0.5' }).metrics).toEqual({
      port: 9999,
      host: '10.0.0.5',
    });
    expect(listen({ METRICS_PORT: '0' }).metrics).toBe(false);
    expect(listen({ RPC_PORT: '0' }).metrics).toEqual({ port: 0, host: '127.0.0.1' });
    expect(() => listen({ RPC_PORT: '64000' })).toThrow(/METRICS_PORT: RPC_PORT \+ 2000 is above 65535/);
  });

  it('wants both TLS files, readable, or neither', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lucy-tls-config-'));
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    writeFileSync(cert, 'cert');
    writeFileSync(key, 'key');
    expect(listen({ RPC_TLS_CERT_FILE: cert, RPC_TLS_KEY_FILE: key }).tls).toEqual({
      certFile: cert,
      keyFile: key,
    });
    expect(() => listen({ RPC_TLS_CERT_FILE: cert })).toThrow(/RPC_TLS_KEY_FILE: .*go together/);
    expect(() => listen({ RPC_TLS_KEY_FILE: key })).toThrow(/RPC_TLS_CERT_FILE: .*go together/);
    expect(() => listen({ RPC_TLS_CERT_FILE: join(dir, 'missing'), RPC_TLS_KEY_FILE: key })).toThrow(
      /RPC_TLS_CERT_FILE: cannot read file/,
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
