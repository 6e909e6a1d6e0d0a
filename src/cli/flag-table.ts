import { parseCommandArgs } from "./command.js";

/** One flag of a command: its parsing, its help and its environment variable come from this row. */
export interface FlagSpec {
  /** How the value reads in --help: N, FILE, DUR, deny|allow. */
  value: string;
  /** What the flag does; wrapped to the help column. */
  help: string;
  /** The default as a user would type it (parsed like any given value); shown as "(default …)". */
  default?: string;
  /** How --help names the default when the value itself would not say it (a long path). */
  defaultText?: string;
  /** Repeatable flag; its environment variable holds several values split on this separator. */
  repeat?: { separator: "," | "\n" };
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** VIRTGUARD_ and the flag in upper snake case: --shutdown-delay → VIRTGUARD_SHUTDOWN_DELAY. */
export function envName(flag: string): string {
  return `VIRTGUARD_${flag.toUpperCase().replace(/-/g, "_")}`;
}

const FLAG_COLUMN = 30;
const HELP_COLUMN = 58;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** The "Flags:" block of a --help text: flag and value, what it does and its default, its environment variable. */
export function renderFlagHelp(table: FlagTable): string {
  const out: string[] = [];
  // Wide enough for the longest flag, so that every help text and environment variable lines up.
  const column = Math.max(FLAG_COLUMN, ...Object.entries(table).map(([name, spec]) => `  --${name} ${spec.value}`.length + 1));
  for (const [name, spec] of Object.entries(table)) {
    const shown = spec.defaultText ?? spec.default;
    const help = wrap(`${spec.help}${shown === undefined ? "" : ` (default ${shown})`}`, HELP_COLUMN);
    const env = `${envName(name)}${spec.repeat ? (spec.repeat.separator === "," ? " (comma-separated)" : " (one per line)") : ""}`;
    const flag = `  --${name} ${spec.value}`;
    help.forEach((line, i) => {
      const left = i === 0 ? flag : "";
      out.push(`${left.padEnd(column)}${i === 0 ? line.padEnd(HELP_COLUMN) + " " + env : line}`.trimEnd());
    });
  }
  return out.join("\n");
}

/** A command's flag values: the command line over the environment over the table's defaults. */
export interface FlagValues<T extends FlagTable> {
  /** The value of a single-valued flag, else its default (a string for flags that have one). */
  one<K extends keyof T & string>(name: K): T[K] extends { default: string } ? string : string | undefined;
  /** Every value of a repeatable flag (from the command line, else split from the environment). */
  many(name: keyof T & string): string[];
}

export function readFlags<T extends FlagTable>(table: T, argv: string[], env: NodeJS.ProcessEnv, command: string): FlagValues<T> {
  const options: Record<string, { type: "string"; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(table)) options[name] = spec.repeat ? { type: "string", multiple: true } : { type: "string" };
  const values: Record<string, string | string[] | boolean | undefined> = parseCommandArgs(command, { args: argv, options, allowPositionals: false, strict: true }).values;
  const one = (name: string): string | undefined => {
    const v = values[name];
    if (typeof v === "string") return v;
    const e = env[envName(name)];
    return e === undefined || e === "" ? table[name]?.default : e;
  };
  return {
    one: one as FlagValues<T>["one"],
    many(name) {
      const v = values[name];
      if (Array.isArray(v)) return v;
      const e = env[envName(name)];
      const separator = table[name]?.repeat?.separator ?? ",";
      return e === undefined ? [] : e.split(separator).map((s) => s.trim()).filter((s) => s !== "");
    },
  };
}
