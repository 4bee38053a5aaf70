import { Command } from 'commander';
import { ConnectError } from '@connectrpc/connect';
import { register as registerAlumnos } from './commands/alumnos.js';
import { register as registerIngest } from './commands/ingest.js';
import { register as registerSchedule } from './commands/schedule.js';
import { register as registerTareas } from './commands/tareas.js';

const program = new Command('lucy')
  .description('Lucy Tasks desde la terminal: tareas, logs, programación, ingesta y alumnos.')
  .option('--json', 'imprime JSON en lugar de tablas')
  .option('--token <token>', 'token de acceso a las APIs (por defecto LUCY_TOKEN o RPC_TOKEN)')
  .showHelpAfterError();

registerTareas(program);
registerSchedule(program);
registerIngest(program);
registerAlumnos(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = err instanceof ConnectError ? `${err.rawMessage} (${err.code})` : (err as Error).message;
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}
