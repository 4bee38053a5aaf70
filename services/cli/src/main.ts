import { Command } from 'commander';
import { reportError } from './errors.js';
import { endQuietlyOnClosedPipe } from './output.js';
import { register as registerAdoptar } from './commands/adoptar.js';
import { register as registerAlumnos } from './commands/alumnos.js';
import { register as registerApiKeys } from './commands/apikeys.js';
import { register as registerCuentas } from './commands/cuentas.js';
import { register as registerIngest } from './commands/ingest.js';
import { register as registerNotifier } from './commands/notifier.js';
import { register as registerSchedule } from './commands/schedule.js';
import { register as registerStaff } from './commands/staff.js';
import { register as registerTareas } from './commands/tareas.js';

const program = new Command('lucy')
  .description('Lucy Tasks desde la terminal: tareas, logs, programación, ingesta y alumnos.')
  .option('--json', 'imprime JSON en lugar de tablas')
  .option('--token <token>', 'token de acceso a las APIs (por defecto LUCY_TOKEN o RPC_TOKEN)')
  .option('--debug', 'en los errores, muestra también el código gRPC y la traza (o LUCY_DEBUG=1)')
  .showHelpAfterError();

registerTareas(program);
registerSchedule(program);
registerIngest(program);
registerAlumnos(program);
registerCuentas(program);
registerNotifier(program);
registerAdoptar(program);
registerApiKeys(program);
registerStaff(program);

endQuietlyOnClosedPipe();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const o = program.opts<{ json?: boolean; debug?: boolean }>();
  reportError(err, { json: o.json, debug: o.debug || /^(1|true|yes)$/i.test(process.env.LUCY_DEBUG ?? '') });
  process.exit(1);
}
