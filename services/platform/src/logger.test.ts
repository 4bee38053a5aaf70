import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  it('writes one JSON object per line with service, level and time', () => {
    const { lines, destination } = capture();
    createLogger({ service: 'task-tracker', instance: 'i1', destination }).info({ taskId: 't1' }, 'hola');
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'info',
      service: 'task-tracker',
      instance: 'i1',
      taskId: 't1',
      msg: 'hola',
    });
    expect(typeof entry.time).toBe('string');
  });

  it('never writes secrets, at known paths or nested in detalles', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 's', destination });
    log.info({ password: 'p1', headers: { authorization: 'Bearer abc' } }, 'login');
    log.info(
      { detalles: { upn: 'test-1@x', teams_password: 'p2', nested: { clientSecret: 'p3' } } },
      'creado',
    );
    const text = lines.join('\n');
    for (const secret of ['p1', 'Bearer abc', 'p2', 'p3']) expect(text).not.toContain(secret);
    expect(text).toContain('test-1@x');
  });

  it('never writes a secret, whatever the shape of the record', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 's', destination });
    const secrets: string[] = [];
    const secret = (label: string) => {
      const value = `S3cr3t-${label}-${secrets.length}`;
      secrets.push(value);
      return value;
    };
    // Keys in any case, English and Spanish names.
    log.info({ Authorization: `Bearer ${secret('authz')}` }, 'header');
    log.info(
      { AUTHORIZATION: secret('upper'), 'X-Api-Key': secret('apikey'), Cookie: secret('cookie') },
      'upper',
    );
    log.info(
      { clave: secret('clave'), contrasena: secret('contrasena'), contraseña: secret('contraseña') },
      'es',
    );
    log.info({ Contraseña_Teams: secret('teams'), pwd: secret('pwd'), passwd: secret('passwd') }, 'es2');
    log.info({ auth: { user: 'alumno', pass: secret('auth-pass') } }, 'auth');
    log.info({ options: { auth: secret('auth-string') } }, 'auth string');
    log.info(
      { client_secret: secret('cs'), refreshToken: secret('rt'), NATS_NKEY_SEED: secret('seed') },
      'misc',
    );
    // Credentials inside any string: the message, format arguments, nested values, arrays.
    log.info(`conectando a postgres://lucy:${secret('url-msg')}@db:5432/lucy`);
    log.info('sial en %s', `https://usuario:${secret('url-arg')}@sial.example/api`);
    log.info({ targets: [{ url: `nats://u:${secret('url-array')}@nats:4222` }] }, 'targets');
    log.info({ request: `GET /webservice?wstoken=${secret('wstoken')}&wsfunction=core_user` }, 'moodle');
    log.info(
      { line: `Authorization: Basic ${Buffer.from(`u:${secret('basic')}`).toString('base64')}` },
      'raw',
    );
    // Any depth.
    log.info({ a: { b: { c: { d: { e: { f: { g: { h: { password: secret('deep') } } } } } } } } }, 'deep');
    // Errors: their own properties, their cause, their message.
    const withAuth = Object.assign(new Error('smtp failed'), {
      options: { host: 'smtp', auth: { user: 'lucy', pass: secret('err-auth-pass') } },
    });
    log.error({ err: withAuth }, 'smtp');
    log.error(withAuth, 'smtp as first argument');
    const http = Object.assign(new Error('request failed with 401'), {
      config: { headers: { Authorization: `Bearer ${secret('err-header')}` } },
      response: { headers: new Headers({ 'set-cookie': `sid=${secret('err-cookie')}` }) },
    });
    log.error({ err: http }, 'http');
    const caused = new Error(`cannot connect to postgres://lucy:${secret('err-msg')}@db/lucy`, {
      cause: Object.assign(new Error('inner'), { password: secret('err-cause') }),
    });
    log.error({ err: caused }, 'cause');
    log.error(
      { err: new AggregateError([Object.assign(new Error('one'), { token: secret('agg') })], 'many') },
      'agg',
    );
    // Bindings of a child logger, a Map, and a cycle.
    log.child({ password: secret('child') }).info('child');
    log
      .child({ modulo: 'ingesta' })
      .child({ Token: secret('grandchild') })
      .info('grandchild');
    log.info({ config: new Map([['DATABASE_URL', `postgres://u:${secret('map')}@h/d`]]) }, 'map');
    const cyclic: Record<string, unknown> = { token: secret('cycle') };
    cyclic.self = cyclic;
    log.info({ cyclic }, 'cycle');

    const text = lines.join('\n');
    expect(lines.length).toBe(22);
    for (const value of secrets) expect(text, value).not.toContain(value);
    // What is not secret stays readable.
    expect(text).toContain('https://usuario:***@sial.example/api');
    expect(text).toContain('"modulo":"ingesta"');
    expect(text).toContain('smtp failed');
    expect(text).toContain('postgres://lucy:***@db:5432/lucy');
    expect(text).toContain('wsfunction=core_user');
    const smtp = JSON.parse(lines.find((l) => l.includes('"msg":"smtp as first argument"'))!) as {
      err: { message: string; options: { host: string } };
    };
    expect(smtp.err.message).toBe('smtp failed');
    expect(smtp.err.options.host).toBe('smtp');
  });
});
