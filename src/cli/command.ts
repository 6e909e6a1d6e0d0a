import { parseArgs, type ParseArgsConfig } from "node:util";

/** The contract every `virtguard <command>` file fulfils. */
export interface Command {
  /** One line for `virtguard --help`. */
  summary: string;
  /** Full text for `virtguard <command> --help`. */
  usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/**
 * An error the user caused (bad flag, unreadable file, invalid policy).
 * The CLI prints its message as one line on stderr and exits 2, without a stack trace.
 */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Runs what `virtguard <command>` loads (policies, context files, manifests, parameters): what it
 * throws is the user's, one line and exit 2. Several unreadable files come as one line each on
 * stderr, then their count as the error itself, `nothing` saying what was not done.
 */
export async function asUsageErrors<T>(command: string, nothing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const lines = err instanceof Error ? err.message.split("\n") : [];
    if (lines.length > 1) {
      for (const line of lines) process.stderr.write(`virtguard ${command}: error: ${line}\n`);
      throw new UsageError(`${lines.length} files could not be read (listed above); ${nothing}`);
    }
    if (err instanceof Error && !(err instanceof UsageError)) throw new UsageError(err.message);
    throw err;
  }
}

/** node:util's parseArgs for `virtguard <command>`: an unknown flag or a missing value is a UsageError pointing at its --help. */
export function parseCommandArgs<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw flagError(command, err);
  }
}

/**
 * parseArgs' complaint as a UsageError pointing at the command's --help. Its advice on positionals
 * that start with '-' is dropped: it ends in an unbalanced quote and no virtguard argument needs it.
 */
export function flagError(command: string, err: unknown): UsageError {
  const message = (err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, "");
  return new UsageError(`${message}; see 'virtguard ${command} --help'`);
}
