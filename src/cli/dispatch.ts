/**
 * The command-line dispatcher shared by the sensor's CLI and the lab's dev entry point: picks a
 * command by its one or two leading words, parses its options strictly, prints help, and maps
 * errors to exit codes (1 fatal with one line on stderr, 2 usage).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CaptureFormatError } from '../capture/source.js';
import { UsageError, type Command } from './commands.js';
import { termSafe } from '../util/terminal.js';

function help(prog: string, commands: readonly Command[]): string {
  const lines = [`usage: ${prog} <command> [options]`, '', 'commands:'];
  for (const c of commands) lines.push(`  ${c.name.padEnd(16)} ${c.summary}`);
  lines.push('', `${prog} <command> --help   shows the options of a command`, '');
  lines.push('exit codes: 0 ok, 1 fatal error, 2 usage error, 3 done but the input was damaged (truncated capture), 4 replay --siem: records not acknowledged, refused or lost (the summary says which)');
  return lines.join('\n');
}

export function commandHelp(prog: string, c: Command): string {
  const lines = [`usage: ${prog} ${c.name} ${c.usage}`, '', c.summary, '', 'options:'];
  for (const [name, o] of Object.entries(c.options)) {
    const flag = `--${name}${o.short ? `, -${o.short}` : ''}${o.type === 'string' ? ' <value>' : ''}`;
    const def = o.default !== undefined ? ` (default: ${String(o.default)})` : '';
    lines.push(`  ${flag.padEnd(30)} ${o.help}${def}`);
  }
  lines.push(`  ${'--help, -h'.padEnd(30)} this help`);
  return lines.join('\n');
}

export async function runCli(prog: string, commands: readonly Command[], argv: string[]): Promise<number> {
  const words: string[] = [];
  let i = 0;
  while (i < argv.length && !(argv[i] as string).startsWith('-') && words.length < 2) {
    words.push(argv[i] as string);
    i++;
    const one = commands.find((c) => c.name === words[0]);
    if (one) break;
  }
  if (words.length === 0) {
    process.stdout.write(help(prog, commands) + '\n');
    return argv.includes('--help') || argv.includes('-h') ? 0 : 2;
  }
  const name = words.join(' ');
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`${termSafe(`${prog}: unknown command '${name}'`)}\n\n${help(prog, commands)}\n`);
    return 2;
  }
  const rest = argv.slice(i);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(prog, cmd) + '\n');
    return 0;
  }
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [k, o] of Object.entries(cmd.options)) {
    options[k] = { type: o.type, multiple: o.multiple ?? false, ...(o.short ? { short: o.short } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (e) {
    errorLines(`${prog} ${cmd.name}: `, (e as Error).message);
    return 2;
  }
  const values: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(cmd.options)) values[k] = (parsed.values as Record<string, unknown>)[k] ?? o.default;
  try {
    return await cmd.run(values, parsed.positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      errorLines(`${prog} ${cmd.name}: `, e.message);
      return 2;
    }
    const err = e as Error;
    const known = err instanceof CaptureFormatError || err.name.endsWith('Error') && err.name !== 'Error' && err.name !== 'TypeError' && err.name !== 'RangeError';
    if (known || (err as NodeJS.ErrnoException).code) {
      errorLines(`${prog} ${cmd.name}: `, err.message);
    } else {
      errorLines(`${prog} ${cmd.name}: internal error: `, err.stack ?? err.message);
    }
    return 1;
  }
}

/**
 * An error on stderr, each of its lines escaped: messages quote input (a file name, a config
 * value, a field from a capture or a log), and a config error lists one problem per line.
 */
function errorLines(prefix: string, message: string): void {
  process.stderr.write(message.split('\n').map((l, i) => termSafe(i === 0 ? prefix + l : l)).join('\n') + '\n');
}
