import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './contract-files.js';

// The versioning gate of scripts/check.sh: `buf breaking` with the repository's buf.yaml, here against a copy of
// the proto taken as the baseline (the check uses main's committed proto).
const BUF = `${ROOT}proto/node_modules/.bin/buf`;
const run = promisify(execFile);

let dir: string;
const INGEST = 'lucy/ingest/v1/ingest.proto';

function copyProto(name: string): string {
  const to = join(dir, name);
  cpSync(`${ROOT}proto/buf.yaml`, join(to, 'buf.yaml'));
  cpSync(`${ROOT}proto/lucy`, join(to, 'lucy'), { recursive: true });
  cpSync(`${ROOT}proto/grpc`, join(to, 'grpc'), { recursive: true });
  cpSync(`${ROOT}proto/buf`, join(to, 'buf'), { recursive: true });
  return to;
}

async function breaking(input: string, against: string): Promise<{ code: number; output: string }> {
  try {
    const r = await run(BUF, ['breaking', input, '--against', against], { cwd: dir });
    return { code: 0, output: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

function edit(root: string, file: string, from: string, to: string) {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  expect(text).toContain(from);
  writeFileSync(path, text.replace(from, to));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lucy-breaking-'));
  copyProto('base');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('buf breaking (the versioning policy)', () => {
  it('passes an additive change: a new field', async () => {
    const changed = copyProto('additive');
    edit(
      changed,
      INGEST,
      '  bool dry_run = 4;\n}',
      '  bool dry_run = 4;\n  // A new option.\n  bool nueva_opcion = 5;\n}',
    );
    expect(await breaking('additive', 'base')).toMatchObject({ code: 0 });
  });

  it('fails a renamed field, naming it', async () => {
    const changed = copyProto('renamed');
    edit(changed, INGEST, 'bool dry_run = 4;', 'bool solo_plan = 4;');
    const r = await breaking('renamed', 'base');
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/dry_run|solo_plan/);
  });

  it('fails a renumbered or retyped field', async () => {
    const changed = copyProto('retyped');
    edit(
      changed,
      INGEST,
      'TipoIngesta tipo = 1 [(buf.validate.field).enum = {',
      'string tipo = 1 [(buf.validate.field).string = {',
    );
    edit(changed, INGEST, '    defined_only: true\n    not_in: [0]\n  }];', '    min_len: 1\n  }];');
    const r = await breaking('retyped', 'base');
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('tipo');
  });
});
