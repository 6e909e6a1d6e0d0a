import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../../src/cli/command.js";
import { durationFlag, formatDuration, parseDuration } from "../../src/cli/duration.js";

const DAY = 86_400_000;

describe("the one duration grammar", () => {
  test("reads every unit from milliseconds to weeks, combined", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("2s"), 2000);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("90m"), 5_400_000);
    assert.equal(parseDuration("720h"), 30 * DAY);
    assert.equal(parseDuration("30d"), 30 * DAY);
    assert.equal(parseDuration("1w"), 7 * DAY);
    assert.equal(parseDuration("1d12h"), 1.5 * DAY);
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration(" 0 "), 0);
  });

  test("rejects anything else, naming the text", () => {
    for (const bad of ["30", "d", "30x", "-1d", "", "1d 2h", "2 s", "1y"]) assert.throws(() => parseDuration(bad), new RegExp(`invalid duration "${bad}"`), bad);
  });

  test("a flag's bad value is a usage error naming the flag", () => {
    assert.throws(() => durationFlag("stale-cache-after", "soon"), (err: Error) => err instanceof UsageError && /^--stale-cache-after: invalid duration "soon"/.test(err.message));
  });

  test("formats milliseconds back into the grammar, largest units first", () => {
    for (const [ms, text] of [[0, "0"], [500, "500ms"], [2000, "2s"], [90_000, "1m30s"], [25_000, "25s"], [DAY + 2 * 3_600_000, "1d2h"], [7 * DAY, "1w"]] as const) {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms);
    }
  });
});
