// Validation of rendered manifests against the Kubernetes JSON schemas of a current release, as compiled by
// kubernetes-models (core and apps APIs) and @kubernetes-models/prometheus-operator (ServiceMonitor,
// PrometheusRule). Those schemas, like the Kubernetes OpenAPI, do not forbid unknown fields, which the API
// server would reject (or, worse, silently drop); so every object is also checked for fields the schema never
// looked at: the validator reads each property it knows, and a field it never read is one it does not know.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = join(import.meta.dirname, '..', 'node_modules');

type Validate = ((data: unknown) => boolean) & {
  errors?: Array<{ instancePath: string; message?: string; keyword: string; params: unknown }> | null;
};

const cache = new Map<string, Promise<Validate>>();

/** The compiled schema of an apiVersion/kind, found through the model class that the package ships. */
function schemaFor(apiVersion: string, kind: string): Promise<Validate> {
  const key = `${apiVersion}/${kind}`;
  let p = cache.get(key);
  if (!p) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const modelFile =
      group === 'monitoring.coreos.com'
        ? join(modules, '@kubernetes-models', 'prometheus-operator', group, version!, `${kind}.js`)
        : join(modules, 'kubernetes-models', ...(group ? [group] : []), version!, `${kind}.js`);
    p = (async () => {
      let source: string;
      try {
        source = readFileSync(modelFile, 'utf8');
      } catch {
        throw new Error(`no Kubernetes schema for ${apiVersion} ${kind}`);
      }
      const m = /from"(\.\.\/(?:\.\.\/)?_schemas\/[^"]+\.js)"/.exec(source);
      if (!m) throw new Error(`cannot find the schema module of ${modelFile}`);
      const mod = (await import(pathToFileURL(join(modelFile, '..', m[1]!)).href)) as { validate: Validate };
      return mod.validate;
    })();
    cache.set(key, p);
  }
  return p;
}

/** Wraps a JSON value so that reads and key enumerations of every nested object are recorded. */
function track(
  value: unknown,
  path: string,
  seen: Map<object, { path: string; read: Set<string>; enumerated: boolean }>,
) {
  if (value === null || typeof value !== 'object') return value;
  const entry = { path, read: new Set<string>(), enumerated: false };
  seen.set(value, entry);
  const children = new Map<PropertyKey, unknown>();
  return new Proxy(value, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || !Object.hasOwn(target, prop)) return v;
      entry.read.add(prop);
      if (v === null || typeof v !== 'object') return v;
      if (!children.has(prop)) children.set(prop, track(v, `${path}/${prop}`, seen));
      return children.get(prop);
    },
    ownKeys(target) {
      entry.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'automountServiceAccountToken']);

/** Every schema violation and unknown field of one manifest, as readable lines (empty when valid). */
export async function validateManifest(manifest: object): Promise<string[]> {
  const doc = manifest as Record<string, unknown>;
  const apiVersion = String(doc.apiVersion);
  const kind = String(doc.kind);
  const validate = await schemaFor(apiVersion, kind);
  const seen = new Map<object, { path: string; read: Set<string>; enumerated: boolean }>();
  const proxy = track(doc, '', seen);
  const problems: string[] = [];
  if (!validate(proxy))
    for (const e of validate.errors ?? [])
      problems.push(`${e.instancePath || '/'}: ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
  for (const key of Object.keys(doc)) if (!TOP_LEVEL.has(key)) problems.push(`/${key}: unknown field`);
  for (const [obj, { path, read, enumerated }] of seen) {
    // A map (labels, annotations, resources) is enumerated by its validator; its keys are data, not fields.
    if (enumerated || Array.isArray(obj) || path === '') continue;
    for (const key of Object.keys(obj)) if (!read.has(key)) problems.push(`${path}/${key}: unknown field`);
  }
  return problems;
}
