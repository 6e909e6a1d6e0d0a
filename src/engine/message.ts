import type { Finding } from "./types.js";

/**
 * The API server drops a warning that contains a newline or other control character, and
 * truncates warnings once they pass 4 KiB in total; a message is one line, of bounded length.
 */
export const MAX_MESSAGE_LENGTH = 512;

export function singleLine(text: string, max = MAX_MESSAGE_LENGTH): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").replace(/ {2,}/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** "[policy] message": every line a user reads says which policy spoke. */
export function renderFinding(f: Finding): string {
  return `[${f.policy}] ${f.message}`;
}

/** The status message of a denial: one line for one violation, one line per violation otherwise. */
export function renderDenial(denials: readonly Finding[]): string {
  if (denials.length === 1) return renderFinding(denials[0] as Finding);
  return [`${denials.length} policy violations:`, ...denials.map((d) => `- ${renderFinding(d)}`)].join("\n");
}
