import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { PermanentError, TransientError } from '@lucy/platform';
import type { AlumnoService, IngestService } from '@lucy/proto';
import { describe, expect, it } from 'vitest';
import { createIngestClient } from './ingest.client.js';

const failing = (code: Code) =>
  createIngestClient({
    alumnos: {
      getAlumno: () => Promise.reject(new ConnectError('x', code)),
    } as unknown as Client<typeof AlumnoService>,
    ingest: {
      getConfiguracion: () => Promise.reject(new ConnectError('x', code)),
    } as unknown as Client<typeof IngestService>,
    cacheMs: 0,
  });

describe('ingest-sial client errors', () => {
  // The fault suite (faults/) saw a call cut by an ingest-sial restart ("http/2 stream closed with error code
  // CANCEL") fail activations for good.
  it.each([
    Code.Canceled,
    Code.Unavailable,
    Code.DeadlineExceeded,
    Code.Internal,
    Code.Unknown,
    Code.Aborted,
  ])('a call ending with code %s is transient (the task is retried)', async (code) => {
    await expect(failing(code).flags('aspirantes')).rejects.toBeInstanceOf(TransientError);
    await expect(failing(code).getAlumno('a')).rejects.toBeInstanceOf(TransientError);
  });

  it.each([Code.PermissionDenied, Code.InvalidArgument, Code.Unauthenticated])(
    'a refusal (code %s) is permanent',
    async (code) => {
      await expect(failing(code).flags('aspirantes')).rejects.toBeInstanceOf(PermanentError);
    },
  );
});
