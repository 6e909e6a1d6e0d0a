import { UsageError } from "./command.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * The one duration grammar of every flag: a number and a unit, repeated (500ms, 2s, 1m30s, 720h,
 * 30d, 1w, 1d12h), or 0. Returns milliseconds; throws an Error naming the text otherwise.
 */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (t === "0") return 0;
  if (!/^(\d+(\.\d+)?(ms|[wdhms]))+$/.test(t)) throw new Error(`invalid duration "${text}": expected a number and a unit (ms, s, m, h, d, w) such as 500ms, 2s, 1m30s, 30d, or 0`);
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|[wdhms])/g)) total += Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0);
  return Math.round(total);
}

/** Milliseconds as the grammar above writes them, largest units first: 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  let rest = ms;
  let text = "";
  for (const unit of ["w", "d", "h", "m", "s", "ms"]) {
    const size = UNIT_MS[unit] as number;
    const n = Math.floor(rest / size);
    if (n > 0) {
      text += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return text;
}

/** parseDuration for a flag's value: a UsageError naming the flag on bad input. */
export function durationFlag(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
}

/** `review` and `check` take serve's --eval-timeout: one request's evaluation deadline. */
export const DEFAULT_EVAL_TIMEOUT = "2s";

export function parseEvalTimeout(text: string | undefined): number {
  const ms = durationFlag("eval-timeout", text ?? DEFAULT_EVAL_TIMEOUT);
  if (ms <= 0) throw new UsageError("--eval-timeout must be more than 0");
  return ms;
}
