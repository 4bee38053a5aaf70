// Shared by the ingest-sial benchmarks: the synthetic rows of the upsert stage and the fake SIAL as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { uuidv7 } from '@lucy/platform';
import type { AlumnoUpsert } from '@lucy/ingest-sial';
import { serviceNodeArgs } from './lib.js';

export const ROOT = join(import.meta.dirname, '..');

const NOMBRES = [
  'María',
  'Juan',
  'Lucía',
  'Martín',
  'Sofía',
  'Joaquín',
  'Valentina',
  'Mateo',
  'Camila',
  'Tomás',
];
const APELLIDOS = [
  'González',
  'Rodríguez',
  'Gómez',
  'Fernández',
  'López',
  'Díaz',
  'Martínez',
  'Pérez',
  'Romero',
  'Sosa',
];
const CARRERAS = [
  [2, 'LICENCIATURA EN ADMINISTRACIÓN'],
  [3, 'CONTADOR PÚBLICO'],
  [4, 'LICENCIATURA EN ECONOMÍA'],
] as const;

/**
 * Row `i` of the upsert data set: DNI 40 000 000 + i, names, e-mail, birth date, one carrera with one comisión
 * (the shape SIAL sends), a fingerprint. `revision` changes telefono and the comisión, so a second pass updates.
 */
export function syntheticUpsert(i: number, revision = 0, now = new Date()): AlumnoUpsert {
  const [idCarrera, nombreCarrera] = CARRERAS[i % CARRERAS.length]!;
  const nombre = NOMBRES[i % NOMBRES.length]!;
  const apellido = APELLIDOS[Math.floor(i / NOMBRES.length) % APELLIDOS.length]!;
  return {
    id: uuidv7(now.getTime()),
    values: {
      tipo_documento: 'DNI',
      dni: String(40_000_000 + i),
      nombre,
      apellido,
      email_personal: `${nombre}.${apellido}.${i}@example.com`.toLowerCase(),
      fecha_nacimiento: `${1990 + (i % 15)}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
      cohorte: 2025,
      localidad: 'Córdoba',
      telefono: `351${String(4_000_000 + i + revision * 7).padStart(7, '0')}`,
      estado: 'aspirante',
      fecha_ingreso: null,
      estado_ingreso: null,
      modalidad: i % 3 === 0 ? '1' : '2',
      carreras: [
        {
          id_carrera: idCarrera,
          nombre_carrera: nombreCarrera,
          fecha_inscri: '06/12/2024 11:42:32',
          modalidad: i % 3 === 0 ? '1' : '2',
          cohorte: 2025,
          comisiones: [
            {
              id_comision: 500 + ((i + revision) % 40),
              nombre_comision: `COMISION ${String(1 + ((i + revision) % 40)).padStart(2, '0')}`,
            },
          ],
        },
      ],
    },
    fingerprint: { tipo: 'aspirantes', value: `v1:${i}:${revision}` },
    now,
  };
}

/** A fake SIAL in a child process, so its CPU and memory are not the measured process's. */
export interface FakeProcess {
  url: string;
  /** POST /__fake/faults. */
  setFaults(faults: Record<string, unknown>): Promise<void>;
  /** GET /__fake/state → request counters. */
  requests(): Promise<{ list: number; personal: number }>;
  stop(): Promise<void>;
}

/** Starts `services/fake-sial/src/main.ts` on a free loopback port with `size` records per tipo. */
export async function startFakeProcess(size: number, seed = 1): Promise<FakeProcess> {
  const child: ChildProcess = spawn(process.execPath, serviceNodeArgs('main'), {
    cwd: join(ROOT, 'services/fake-sial'),
    env: {
      ...process.env,
      SIAL_FAKE_PORT: '0',
      SIAL_FAKE_SIZE: String(size),
      SIAL_FAKE_SEED: String(seed),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fake SIAL exited with ${code}`)));
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { url?: string };
        if (msg.url) resolve(msg.url);
      } catch {
        // not a log line
      }
    });
  });
  const call = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${url}${path}`, init);
    if (!res.ok) throw new Error(`fake SIAL ${path}: ${res.status} ${await res.text()}`);
    const body: unknown = await res.json();
    return body;
  };
  return {
    url,
    async setFaults(faults) {
      await call('/__fake/faults', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
    },
    async requests() {
      const state = (await call('/__fake/state')) as { requests: { list: number; personal: number } };
      return state.requests;
    },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
