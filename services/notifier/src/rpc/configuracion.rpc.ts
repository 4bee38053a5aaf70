/**
 * NotifierService.Get/UpdateConfiguracionCorreo (issue 13): the SMTP relay as the notifier uses it, and the SMTP
 * AUTH credentials staff replace from the admin's Configuración. The password is write-only: the answer says only
 * whether one is set and where the credentials come from; the Log of a change names who and the user, never the
 * password. A change is used from the next e-mail on (the mailer rebuilds its pool), without a restart.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { publishLog, ValidationError, type NatsHandles, type Names } from '@lucy/platform';
import { ConfiguracionCorreoSchema, type ConfiguracionCorreo, type NotifierService } from '@lucy/proto';
import type { SmtpConfig } from '../config.js';
import type { MailSettings } from '../settings.js';

export interface ConfiguracionCorreoRpcDeps {
  settings: MailSettings;
  config: Pick<SmtpConfig, 'SMTP_HOST' | 'SMTP_PORT' | 'SMTP_FROM'>;
  js: NatsHandles['js'];
  names: Names;
  clock: () => Date;
}

export function createConfiguracionCorreoRpc(
  deps: ConfiguracionCorreoRpcDeps,
): Pick<ServiceImpl<typeof NotifierService>, 'getConfiguracionCorreo' | 'updateConfiguracionCorreo'> {
  const view = (): ConfiguracionCorreo => {
    const credentials = deps.settings.credentials;
    const changed = deps.settings.changed;
    return create(ConfiguracionCorreoSchema, {
      servidor: `${deps.config.SMTP_HOST}:${deps.config.SMTP_PORT}`,
      usuario: credentials?.user ?? '',
      passwordConfigurada: credentials !== undefined && credentials.password !== '',
      credencialesOrigen: deps.settings.origin,
      remitente: deps.config.SMTP_FROM,
      ...(changed ? { actualizadoEn: timestampFromDate(changed.at), actualizadoPor: changed.by } : {}),
    });
  };

  return {
    getConfiguracionCorreo() {
      return { configuracion: view() };
    },

    async updateConfiguracionCorreo(req) {
      const problems = await deps.settings.update(
        {
          usuario: req.usuario,
          password: req.password,
          restablecer: req.restablecer,
          requestedBy: req.requestedBy,
        },
        deps.clock(),
      );
      if (problems.length) throw new ValidationError(problems);
      const por = req.requestedBy.trim();
      if (req.restablecer) {
        // What this change goes back to, not what is in use when the Log is written (another change may have come
        // in between).
        const enUso = deps.settings.deploymentUser;
        await publishLog(
          deps.js,
          deps.names,
          {
            level: 'INFO',
            module: 'notifier',
            message: `${por}: credenciales SMTP guardadas en Lucy olvidadas; desde el próximo e-mail se usan las del despliegue (${enUso ? `usuario «${enUso}»` : 'sin usuario: sin AUTH'}).`,
            usuario: por,
            detalles: { accion: 'configuracion_correo', restablecer: true },
          },
          undefined,
          deps.clock,
        );
        return { configuracion: view() };
      }
      const usuario = req.usuario.trim();
      await publishLog(
        deps.js,
        deps.names,
        {
          level: 'INFO',
          module: 'notifier',
          message: `${por}: credenciales SMTP reemplazadas (usuario «${usuario}»); se usan desde el próximo e-mail.`,
          usuario: por,
          detalles: { accion: 'configuracion_correo', usuario_smtp: usuario },
        },
        undefined,
        deps.clock,
      );
      return { configuracion: view() };
    },
  };
}
