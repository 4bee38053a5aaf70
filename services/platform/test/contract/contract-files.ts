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
