import { writeFileSync } from "node:fs";
import { UsageError } from "./command.js";

/** A rendered report to --output-file, or to stdout without one; an unwritable file is a usage error naming it. */
export function writeReport(rendered: string, outputFile: string | undefined): void {
  if (!outputFile) {
    process.stdout.write(rendered);
    return;
  }
  try {
    writeFileSync(outputFile, rendered);
  } catch (err) {
    throw new UsageError(`${outputFile}: cannot write the report: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
