/** The two ways input to a fake is refused: its own control input (400) and its process configuration (exit 2). */

/**
 * Input to a fake's own controls (fault switches, control endpoints, request bodies) is not valid. The fakes answer
 * it with 400 and the message; it never stands for an error of the system being faked.
 */
export class FakeInputError extends Error {
  override readonly name = 'FakeInputError';
}

/**
 * The fake's configuration (environment) is not valid. {@link runFake} logs it as one JSON line on stderr,
 * `{"level":"error","msg":…,…fields}`, and exits with code 2.
 */
export class FakeConfigError extends Error {
  override readonly name = 'FakeConfigError';

  /**
   * @param message what is wrong and what to set, e.g. `FAKE_X_PORT must be a non-negative integer`.
   * @param fields extra fields of the log line (never a secret), e.g. `{ value: raw }`.
   */
  constructor(
    message: string,
    readonly fields: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}
