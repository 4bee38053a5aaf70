import { error } from '@sveltejs/kit';
import { ExportFormat } from '@lucy/proto';
import { getApp } from '$lib/server/app';
import { parseFiltros, toFilter, UUID } from '$lib/server/alumnos';
import { clientIp, requireRole } from '$lib/server/guard';
import { describeFailure } from '$lib/server/services';
import type { RequestHandler } from './$types';

// The admin's addresses end in a slash (the layout's option does not reach endpoints).
export const trailingSlash = 'always';

/**
 * The CSV of the selected alumnos (posted `ids`), or of every alumno the list's filters (the query string) match
 * when none is selected; streamed from ingest-sial's ExportAlumnos and recorded in the audit trail.
 */
export const POST: RequestHandler = async (event) => {
  const staff = requireRole(event, 'lector');
  const form = await event.request.formData();
  const ids = [
    ...new Set(form.getAll('ids').filter((v): v is string => typeof v === 'string' && UUID.test(v))),
  ].slice(0, 5_000);
  const f = parseFiltros(event.url.searchParams);
  const filter = ids.length ? { ids } : toFilter(f);
  const { services, audit } = await getApp();
  const stream = services.alumnos.exportAlumnos({ filter, format: ExportFormat.CSV });
  const it = stream[Symbol.asyncIterator]();
  let first: IteratorResult<{ filename: string; contentType: string; chunk: Uint8Array }>;
  try {
    first = await it.next();
  } catch (err) {
    error(503, describeFailure('ingest-sial', err));
  }
  await audit.record({
    actor: staff.username,
    ip: clientIp(event),
    action: 'alumno.exportar',
    target: ids.length ? `${ids.length} alumnos seleccionados` : 'alumnos filtrados',
    detalles: ids.length ? { alumnos: ids.length } : { filtros: { ...f, cursor: undefined } },
  });
  const filename = (!first.done && first.value.filename) || 'alumnos.csv';
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (!first.done && first.value.chunk.length) controller.enqueue(first.value.chunk);
      if (first.done) controller.close();
    },
    async pull(controller) {
      try {
        const next = await it.next();
        if (next.done) controller.close();
        else if (next.value.chunk.length) controller.enqueue(next.value.chunk);
      } catch (err) {
        controller.error(err);
      }
    },
  });
  return new Response(body, {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${filename.replace(/[^\w.-]/g, '_')}"`,
      'cache-control': 'no-store',
    },
  });
};
