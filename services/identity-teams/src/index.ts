/** @lucy/identity-teams: Teams/Entra and Moodle accounts of alumnos. For now its adapters and domain rules. */
export * from './adapters/index.js';
export * from './domain/index.js';
