import { describe, expect, it } from 'vitest';
import { isLoopbackHost, loadConfig } from './config.js';

const base = {
  RPC_TOKEN: 'a-token-of-sixteen-chars',
  SIAL_USER: 'lucy',
  SIAL_PASSWORD: 'secreto',
  SIAL_BASE_URL: 'https://sial.example.edu.ar',
};

describe('ingest-sial configuration', () => {
  it('requires the SIAL credentials: no demo default reaches production', () => {
    const { SIAL_USER: _u, SIAL_PASSWORD: _p, ...without } = base;
    expect(() => loadConfig(without)).toThrow(/SIAL_USER.*SIAL_PASSWORD|SIAL_PASSWORD.*SIAL_USER/);
    expect(loadConfig(base).SIAL_USER).toBe('lucy');
  });

  it('takes LUCY_SECRET_KEYS optionally (a SIAL password can be stored only with it) and checks its format', () => {
    expect(loadConfig(base).LUCY_SECRET_KEYS).toBeUndefined();
    const keys = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    expect(loadConfig({ ...base, LUCY_SECRET_KEYS: keys }).LUCY_SECRET_KEYS).toBe(keys);
    expect(() => loadConfig({ ...base, LUCY_SECRET_KEYS: 'k1:c2hvcnQ=' })).toThrow(
      /LUCY_SECRET_KEYS: key "k1" must be exactly 32 bytes/,
    );
    expect(loadConfig(base).SIAL_CREDENTIALS_REFRESH_MS).toBe(10_000);
  });

  it('refuses http:// to SIAL unless the host is loopback', () => {
    expect(() => loadConfig({ ...base, SIAL_BASE_URL: 'http://sial.example.edu.ar' })).toThrow(
      /SIAL_BASE_URL: must be an https:\/\/ URL/,
    );
    for (const url of ['http://127.0.0.1:8088', 'http://localhost:8088', 'http://[::1]:8088']) {
      expect(loadConfig({ ...base, SIAL_BASE_URL: url }).SIAL_BASE_URL).toBe(url);
    }
  });

  it('knows loopback hosts', () => {
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('localhost.evil.com')).toBe(false);
  });
});
