import { endOutputOnClosedPipe } from "./closed-pipe.js";
import { UsageError, type Command } from "./command.js";

// Commands load lazily so that `virtguard review` does not pay for the server's or certs' imports.
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  review: { summary: "Evaluate one AdmissionReview from a file or stdin and print the response", load: () => load("review") },
  serve: { summary: "Run the validating admission webhook server (TLS)", load: () => load("serve") },
  audit: { summary: "Judge existing objects (cluster dumps or a live cluster) against the policies", load: () => load("audit") },
  check: { summary: "Check manifests against the policies, as the cluster would (CI)", load: () => load("check") },
  test: { summary: "Run policy unit-test suites (virtguard-test.yaml)", load: () => load("test") },
  certs: { summary: "Generate or renew the webhook CA and serving certificate", load: () => load("certs") },
  manifests: { summary: "Print the deployment manifests, ready for kubectl apply -f -", load: () => load("manifests") },
};

async function load(name: string): Promise<Command> {
  const mod = (await import(`./${name}.js`)) as { command: Command };
  return mod.command;
}

function topHelp(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    "virtguard: admission policies for Deckhouse Virtualization Platform",
    "",
    "Usage: virtguard <command> [flags]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run 'virtguard <command> --help' (or 'virtguard help <command>') for a command's flags and examples.",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  // `virtguard help check` is `virtguard check --help`, as git and kubectl read it.
  if (name === "help" && rest[0] !== undefined) return main([rest[0], "--help"]);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(topHelp() + "\n");
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "version") {
    const { version } = await import("./version.js");
    process.stdout.write(`virtguard ${version()}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) throw new UsageError(`unknown command "${name}"; run 'virtguard --help' for the list`);
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(command.usage.trimEnd() + "\n");
    return 0;
  }
  return command.run(rest);
}

/** Runs one command line; sets process.exitCode. */
export function runCli(argv: string[]): Promise<void> {
  endOutputOnClosedPipe(process.stdout);
  endOutputOnClosedPipe(process.stderr);
  return main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`virtguard: ${message.replace(/\s*\n\s*/g, " ")}\n`);
      if (!(err instanceof UsageError) && process.env.VIRTGUARD_DEBUG) console.error(err);
      process.exitCode = err instanceof UsageError ? err.exitCode : 2;
    },
  );
}
