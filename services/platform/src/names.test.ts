import { describe, expect, it } from 'vitest';
import { createNames } from './names.js';

describe('names', () => {
  it('are exactly those of design.md without a prefix', () => {
    const n = createNames();
    expect(n.streams).toEqual({ cmd: 'LUCY_CMD', evt: 'LUCY_EVT', dlq: 'LUCY_DLQ' });
    expect(n.cmd('ingest', 'ingestar_aspirantes')).toBe('lucy.cmd.ingest.ingestar_aspirantes');
    expect(n.evt('task', 'started')).toBe('lucy.evt.task.started');
    expect(n.dlq('lucy.cmd.ingest.ingesta_manual')).toBe('lucy.dlq.cmd.ingest.ingesta_manual');
  });

  it('isolate a prefix in streams, subjects and buckets', () => {
    const n = createNames('t1');
    expect(n.streams.cmd).toBe('t1_LUCY_CMD');
    expect(n.allCommands).toBe('t1.lucy.cmd.>');
    expect(n.buckets.leases).toBe('t1_LUCY_LEASES');
    expect(n.canonical('t1.lucy.cmd.x.y')).toBe('lucy.cmd.x.y');
    expect(n.dlq('t1.lucy.cmd.x.y')).toBe('t1.lucy.dlq.cmd.x.y');
  });

  it('refuse a prefix that would break subjects', () => {
    expect(() => createNames('a.b')).toThrow(/Invalid prefix/);
  });
});
