/**
 * Checks the args and kwargs of a periodic task against what the registered task declares, so staff learn
 * about a typo when saving, not when the worker rejects the command at 2 AM.
 */
import type { FieldError } from './validation.error.js';

export type TaskKwargType = 'string' | 'number' | 'boolean' | 'datetime';

/** What a service announces for one of its registered tasks. */
export interface RegisteredTaskSpec {
  /** Registered name, e.g. `alumnos.tasks.ingestar_preinscriptos`. */
  name: string;
  kwargs: Record<string, { type: TaskKwargType; required?: boolean; description: string }>;
  /** Whether positional arguments are accepted at all. */
  acceptsArgs: boolean;
}

// ISO 8601 date-time with an explicit zone: a bare local time would be read in whichever zone the worker runs.
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

const TYPE_ES: Readonly<Record<TaskKwargType, string>> = {
  string: 'un texto',
  number: 'un número',
  boolean: 'verdadero o falso',
  datetime: 'una fecha y hora ISO 8601 con zona (p. ej. 2026-01-15T10:00:00-03:00)',
};

function matchesType(value: unknown, type: TaskKwargType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'datetime':
      if (value instanceof Date) return !Number.isNaN(value.getTime());
      return typeof value === 'string' && ISO_DATETIME.test(value) && !Number.isNaN(Date.parse(value));
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Validates args (a JSON array) and kwargs (a JSON object) against a registered task's spec. Errors name
 * `args`, `kwargs`, or `kwargs.<key>` (unknown key, wrong type, missing required value); a `null` value counts
 * as missing.
 */
export function validateTaskArgs(spec: RegisteredTaskSpec, args: unknown, kwargs: unknown): FieldError[] {
  const errors: FieldError[] = [];
  if (!Array.isArray(args)) {
    errors.push({ field: 'args', message: 'Debe ser una lista JSON (p. ej. [])' });
  } else if (!spec.acceptsArgs && args.length > 0) {
    errors.push({
      field: 'args',
      message: `La tarea «${spec.name}» no acepta argumentos posicionales: use kwargs`,
    });
  }

  if (!isPlainObject(kwargs)) {
    errors.push({ field: 'kwargs', message: 'Debe ser un objeto JSON (p. ej. {})' });
    return errors;
  }
  const known = Object.keys(spec.kwargs);
  for (const [key, value] of Object.entries(kwargs)) {
    const declared = Object.hasOwn(spec.kwargs, key) ? spec.kwargs[key] : undefined;
    if (declared === undefined) {
      errors.push({
        field: `kwargs.${key}`,
        message:
          known.length === 0
            ? `Parámetro desconocido «${key}»: la tarea «${spec.name}» no recibe parámetros`
            : `Parámetro desconocido «${key}» para la tarea «${spec.name}» (admitidos: ${known.join(', ')})`,
      });
      continue;
    }
    if (value === null || value === undefined) continue;
    if (!matchesType(value, declared.type)) {
      errors.push({ field: `kwargs.${key}`, message: `Debe ser ${TYPE_ES[declared.type]}` });
    }
  }
  for (const [key, declared] of Object.entries(spec.kwargs)) {
    if (declared.required === true && (kwargs[key] === undefined || kwargs[key] === null)) {
      errors.push({
        field: `kwargs.${key}`,
        message: `Falta el parámetro obligatorio «${key}» (${declared.description})`,
      });
    }
  }
  return errors;
}
