import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  it('writes one JSON object per line with service, level and time', () => {
    const { lines, destination } = capture();
    createLogger({ service: 'task-tracker', instance: 'i1', destination }).info({ taskId: 't1' }, 'hola');
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'info',
      service: 'task-tracker',
      instance: 'i1',
      taskId: 't1',
      msg: 'hola',
    });
    expect(typeof entry.time).toBe('string');
  });

  it('never writes secrets, at known paths or nested in detalles', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 's', destination });
    log.info({ password: 'p1', headers: { authorization: 'Bearer abc' } }, 'login');
    log.info(
      { detalles: { upn: 'test-1@x', teams_password: 'p2', nested: { clientSecret: 'p3' } } },
      'creado',
    );
    const text = lines.join('\n');
    for (const secret of ['p1', 'Bearer abc', 'p2', 'p3']) expect(text).not.toContain(secret);
    expect(text).toContain('test-1@x');
  });
});
