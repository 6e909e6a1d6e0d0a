import type { Counter } from "prom-client";

/** How a request ended, as the decision label says it. */
export type Decision = "allowed" | "denied" | "warned" | "error";

type DecisionLabels = "decision" | "kind" | "operation" | "policy";

interface Cell {
  readonly kind: string;
  readonly operation: string;
  readonly policy: string;
  counts: Record<Decision, number>;
}

const DECISIONS: readonly Decision[] = ["allowed", "denied", "warned", "error"];

/**
 * Decisions counted on the hot path in plain maps and added to the Prometheus counter when it is
 * read (scraped). prom-client hashes and validates the label set on every inc(), and a request adds
 * one decision per matched policy: that was most of the metrics' cost per request. Label values
 * are bounded by the caller (kinds and policies capped, four operations), and so are the maps.
 */
export class DecisionTally {
  /** kind → operation → policy → cell: no key is built per call. */
  private readonly byKind = new Map<string, Map<string, Map<string, Cell>>>();

  add(kind: string, operation: string, policy: string, decision: Decision): void {
    let byOperation = this.byKind.get(kind);
    if (!byOperation) this.byKind.set(kind, (byOperation = new Map()));
    let byPolicy = byOperation.get(operation);
    if (!byPolicy) byOperation.set(operation, (byPolicy = new Map()));
    let cell = byPolicy.get(policy);
    if (!cell) byPolicy.set(policy, (cell = { kind, operation, policy, counts: { allowed: 0, denied: 0, warned: 0, error: 0 } }));
    cell.counts[decision]++;
  }

  /** Moves what was counted since the last read into the counter. */
  flushInto(counter: Counter<DecisionLabels>): void {
    for (const byOperation of this.byKind.values()) {
      for (const byPolicy of byOperation.values()) {
        for (const cell of byPolicy.values()) {
          for (const decision of DECISIONS) {
            const n = cell.counts[decision];
            if (n === 0) continue;
            counter.inc({ decision, kind: cell.kind, operation: cell.operation, policy: cell.policy }, n);
            cell.counts[decision] = 0;
          }
        }
      }
    }
  }
}
