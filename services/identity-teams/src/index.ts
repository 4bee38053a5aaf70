/** @lucy/identity-teams: Teams/Entra and Moodle accounts of alumnos, the credential vault and IdentityService. */
export * from './adapters/index.js';
export * from './domain/index.js';
export { loadConfig, identityEnvSchema, type IdentityConfig } from './config.js';
export { startIdentityService, type IdentityServiceHandle, type IdentityServiceOptions } from './service.js';
export { identityOrm } from './db/index.js';
export { ADMIN_TOKEN_HEADER } from './rpc/identity.rpc.js';
