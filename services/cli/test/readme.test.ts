import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** `lucy <args> --help` as a real process: the commands it lists. */
async function commandsOf(...args: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['bin/lucy.js', ...args, '--help'], {
    cwd: CLI,
    timeout: 90_000,
  });
  const section = stdout.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

describe('the README lists every verb the CLI has', () => {
  it('names each top-level command and each sub-command of lucy --help', async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('| area'), readme.indexOf('`lucy <verb> --help`'));
    const top = await commandsOf();
    expect(top.length).toBeGreaterThan(10);
    const missing: string[] = [];
    const subs = await Promise.all(top.map((c) => commandsOf(c)));
    for (const [i, command] of top.entries()) {
      if (!new RegExp(`\`${command}\\b`).test(table)) missing.push(command);
      const row = table
        .split('\n')
        .filter((line) => line.includes(`\`${command}`) || line.includes(`${command} `));
      for (const sub of subs[i]!)
        if (!row.some((line) => new RegExp(`(\\||\\s|\`)${sub}(\\\\?\\||\`|\\s)`).test(line)))
          missing.push(`${command} ${sub}`);
    }
    expect(missing).toEqual([]);
  }, 180_000);
});
