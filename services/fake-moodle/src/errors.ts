/**
 * The exceptions Moodle's web-service layer reports, with the class names, error codes and English strings of core
 * (`lang/en/error.php`, `lang/en/webservice.php`, `lang/en/enrol_manual.php`). The REST server turns any of them
 * into `{exception, errorcode, message[, debuginfo]}` with HTTP 200.
 */

/** A Moodle exception as the REST server serialises it. */
export class MoodleException extends Error {
  override readonly name = 'MoodleException';

  constructor(
    /** The PHP class name (`get_class($ex)`). */
    readonly exception: string,
    readonly errorcode: string,
    message: string,
    /** Only sent to the client when the site has debugging on. */
    readonly debuginfo?: string,
  ) {
    super(message);
  }
}

/** `invalid_parameter_exception`: the message is always generic; the reason is only in `debuginfo`. */
export class InvalidParameterException extends MoodleException {
  constructor(debuginfo: string) {
    super('invalid_parameter_exception', 'invalidparameter', 'Invalid parameter value detected', debuginfo);
  }
}

export const invalidToken = (): MoodleException =>
  new MoodleException('moodle_exception', 'invalidtoken', 'Invalid token - token not found');

export const accessException = (wsfunction: string): MoodleException =>
  new MoodleException(
    'webservice_access_exception',
    'accessexception',
    'Access control exception',
    `Access to the function ${wsfunction}() is not allowed.
 There could be multiple reasons for this:
 1. The service linked to the user token does not contain the function.
 2. The service is user-restricted and the user is not listed.
 3. The service is IP-restricted and the user IP is not listed.
 4. The service is time-restricted and the time has expired.
 5. The token is time-restricted and the time has expired.
 6. The service requires a specific capability which the user does not have.
 7. The function is called with username/password (no user token is sent)
 and the user has not enabled the web service accounts in their profile.`,
  );

/** `dml_missing_record_exception` from a `MUST_EXIST` lookup; debuginfo is the SQL and its parameters. */
export const missingRecord = (table: string, sql: string, params: unknown[]): MoodleException =>
  new MoodleException(
    'dml_missing_record_exception',
    'invalidrecord',
    `Can't find data record in database table ${table}.`,
    `${sql}\n[array (\n${params.map((p, i) => `  ${i} => ${typeof p === 'string' ? `'${p}'` : String(p)},\n`).join('')})]`,
  );

export const codingError = (message: string, debuginfo: string): MoodleException =>
  new MoodleException(
    'coding_exception',
    'codingerror',
    `Coding error detected, it must be fixed by a programmer: ${message}`,
    debuginfo,
  );

/** Capability names as Moodle's `get_capability_string` renders them. */
const CAPABILITY_NAMES: Record<string, string> = {
  'moodle/user:create': 'Create users',
  'moodle/user:delete': 'Delete users',
  'enrol/manual:enrol': 'Enrol users',
};

export const requiredCapability = (capability: string): MoodleException =>
  new MoodleException(
    'required_capability_exception',
    'nopermissions',
    `Sorry, but you do not currently have permissions to do that (${CAPABILITY_NAMES[capability] ?? capability}).`,
    capability,
  );

export const moodleError = (errorcode: string, message: string): MoodleException =>
  new MoodleException('moodle_exception', errorcode, message);
