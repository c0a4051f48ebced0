/**
 * The command line of the offline commands (`flows`, `logs`): flags as `--flag value` or `--flag=value`, the
 * rest files. Each command keeps its own switch over the flags; this is the one tokenizer they share.
 */

/** A command line the command cannot run: printed as one line, exit code 2. */
export class UsageError extends Error {}

export interface Arg {
  /** The argument as given. */
  arg: string;
  /** `--flag` of `--flag=value`, else the argument itself. */
  name: string;
  /** The flag's value: after `=`, else the next argument (consumed). Throws UsageError when there is none. */
  value: () => string;
}

/**
 * The arguments in order. A next argument that looks like a flag (`--x`) is a missing value, not the value
 * (`flows --format --bogus` says --format needs a value); `--flag=--x` passes such a value deliberately.
 */
export function* commandArgs(argv: readonly string[]): Generator<Arg> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const inline = arg.startsWith('--') && eq > 0;
    const name = inline ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (inline) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined || (v.startsWith('--') && v.length > 2)) throw new UsageError(`${name} needs a value`);
      return v;
    };
    yield { arg, name, value };
  }
}
