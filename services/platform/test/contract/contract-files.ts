// The published contract as tests read it: the guide's examples, the JSON Schemas and the descriptors they name.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DescMessage } from '@bufbuild/protobuf';
import * as proto from '@lucy/proto';

export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const GUIDE = `${ROOT}docs/integrating.md`;
export const SCHEMAS = `${ROOT}docs/schemas/`;

export interface SchemaIndexEntry {
  message: string;
  schema: string;
}
export interface SchemaIndex {
  commands: Record<string, SchemaIndexEntry>;
  events: Record<string, SchemaIndexEntry>;
}

export function schemaIndex(): SchemaIndex {
  return JSON.parse(readFileSync(`${SCHEMAS}index.json`, 'utf8')) as SchemaIndex;
}

export function readSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(`${SCHEMAS}${file}`, 'utf8')) as Record<string, unknown>;
}

/** One `<!-- example: subject -->` + fenced json block of the guide. */
export interface GuideExample {
  subject: string;
  json: string;
  /** 1-based line of the block in the guide. */
  line: number;
}

export function guideExamples(text = readFileSync(GUIDE, 'utf8')): GuideExample[] {
  const out: GuideExample[] = [];
  const re = /<!-- example: ([a-z0-9_.]+) -->\s*\n\s*```json\n([\s\S]*?)\n```/g;
  for (const m of text.matchAll(re)) {
    out.push({ subject: m[1]!, json: m[2]!, line: text.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** Generated message descriptors of @lucy/proto by type name. */
export const messagesByTypeName: ReadonlyMap<string, DescMessage> = new Map(
  (Object.values(proto) as unknown[])
    .filter(
      (v): v is DescMessage => typeof v === 'object' && v !== null && (v as DescMessage).kind === 'message',
    )
    .map((m) => [m.typeName, m]),
);

/**
 * Commands that decode but break a field rule declared in the proto (protovalidate): each ends in the dead letters
 * as `invalid: <field>: se recibió …`, its Tarea failed with the same text, and its schema refuses it too.
 */
export const RULE_VIOLATIONS: readonly {
  subject: string;
  body: string;
  /** Pieces of the reason, in order. */
  reason: readonly string[];
}[] = [
  {
    subject: 'lucy.cmd.ingest.ingesta_manual',
    body: '{"tipo":"TIPO_INGESTA_UNSPECIFIED"}',
    reason: [
      'tipo: se recibió "TIPO_INGESTA_UNSPECIFIED"',
      'valores aceptados: "TIPO_INGESTA_PREINSCRIPTOS" (o "preinscriptos")',
    ],
  },
  {
    subject: 'lucy.cmd.notify.enviar_email',
    body: '{"alumnoId":"0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90","tipo":"bienvenida","cursos":["MAT1",""]}',
    reason: ['cursos[1]: se recibió un valor vacío', 'se espera un texto, de 1 a 255 caracteres'],
  },
  {
    subject: 'lucy.cmd.identity.eliminar_cuenta_externa',
    body: '{"alumnoId":"0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90","upn":"test-a30111222"}',
    reason: ['upn: se recibió "test-a30111222"', 'se espera una dirección de e-mail'],
  },
  {
    subject: 'lucy.cmd.tracker.purgar_tareas',
    body: '{"batchSize":100000}',
    reason: ['batchSize: se recibió 100000', 'se espera un entero de 0 a 50000'],
  },
];
