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
