/** Graph errors as the fake raises them; the server renders them in Graph's `{error: {code, message, innerError}}`. */

/** A detail entry of a directory error, e.g. `{target: 'userPrincipalName', code: 'ObjectConflict'}`. */
export interface GraphErrorDetail {
  target?: string;
  code: string;
}

/** A Graph error answer: HTTP status, Graph error code and message, optional details and extra headers. */
export class GraphFakeError extends Error {
  override readonly name = 'GraphFakeError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: GraphErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** 400 `Request_BadRequest`, the code the directory (users, licences) uses for validation failures. */
export const badRequest = (message: string, details?: GraphErrorDetail[]): GraphFakeError =>
  new GraphFakeError(400, 'Request_BadRequest', message, details);

/** 404 `Request_ResourceNotFound` with the directory's message for `key`. */
export const notFound = (key: string): GraphFakeError =>
  new GraphFakeError(
    404,
    'Request_ResourceNotFound',
    `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`,
  );

/** 400 for a property the resource does not declare or that is not writable. */
export const invalidValue = (property: string): GraphFakeError =>
  badRequest(`Invalid value specified for property '${property}' of resource 'User'.`);
