import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SERVER_DEFAULTS } from "../../src/admission/defaults.js";
import { envName } from "../../src/cli/flag-table.js";
import { command, parseServeConfig } from "../../src/cli/serve.js";
import { SERVE_FLAGS } from "../../src/cli/serve-flags.js";

describe("serve's flags come from one table", () => {
  test("--help lists every flag with its value, default and environment variable", () => {
    for (const [name, spec] of Object.entries(SERVE_FLAGS)) {
      const line = command.usage.split("\n").find((l) => l.startsWith(`  --${name} `));
      assert.ok(line, `--help has no line for --${name}`);
      assert.ok(line.includes(`--${name} ${spec.value}`), line);
      assert.ok(line.includes(envName(name)), `${line} lacks ${envName(name)}`);
      const shown = "defaultText" in spec ? spec.defaultText : "default" in spec ? spec.default : undefined;
      if (shown !== undefined) assert.ok(command.usage.replace(/\s+/g, " ").includes(`(default ${shown})`), `--${name}: default ${shown} not shown`);
    }
  });

  test("every flag is read from its environment variable, and the command line wins", () => {
    const env: NodeJS.ProcessEnv = { VIRTGUARD_STALE_CACHE_AFTER: "1d", VIRTGUARD_SHUTDOWN_DELAY: "1s", VIRTGUARD_ADDRESS: "127.0.0.1" };
    const c = parseServeConfig([], env);
    assert.equal(c.staleCache.afterMs, 86_400_000);
    assert.equal(c.shutdownDelayMs, 1000);
    assert.equal(c.address, "127.0.0.1");
    assert.equal(parseServeConfig(["--stale-cache-after", "90s"], env).staleCache.afterMs, 90_000);
  });

  test("--stale-cache-after takes the same grammar as certs' --renew-before", () => {
    assert.equal(parseServeConfig(["--stale-cache-after", "1d"], {}).staleCache.afterMs, 86_400_000);
    assert.equal(parseServeConfig(["--stale-cache-after", "1w"], {}).staleCache.afterMs, 7 * 86_400_000);
    assert.throws(() => parseServeConfig(["--stale-cache-after", "1y"], {}), /^UsageError: --stale-cache-after: invalid duration "1y"/);
  });

  test("defaults are the server's own: a server started from code shuts down like `serve`", () => {
    const c = parseServeConfig([], {});
    assert.equal(c.port, SERVER_DEFAULTS.port);
    assert.equal(c.failureRule, SERVER_DEFAULTS.failureRule);
    assert.equal(c.evalTimeoutMs, SERVER_DEFAULTS.evalTimeoutMs);
    assert.equal(c.shutdownDelayMs, SERVER_DEFAULTS.shutdownDelayMs);
    assert.equal(c.shutdownGracePeriodMs, SERVER_DEFAULTS.shutdownGracePeriodMs);
    assert.equal(c.reloadIntervalMs, SERVER_DEFAULTS.reloadIntervalMs);
  });

  test("--audit-interval is off by default, needs a live cluster, and elects on --audit-lease (default: the pod's namespace)", () => {
    assert.equal(parseServeConfig([], {}).audit.intervalMs, 0);
    assert.throws(() => parseServeConfig(["--audit-interval", "10m"], {}), /^UsageError: --audit-interval needs a live cluster/);
    const c = parseServeConfig(["--audit-interval", "10m", "--kubeconfig", "/k"], { POD_NAMESPACE: "d8-virtguard" });
    assert.deepEqual(c.audit, { intervalMs: 600_000, lease: { namespace: "d8-virtguard", name: "virtguard-audit" } });
    assert.deepEqual(parseServeConfig(["--kubeconfig", "/k"], { VIRTGUARD_AUDIT_INTERVAL: "1s", VIRTGUARD_AUDIT_LEASE: "ops/audit" }).audit, { intervalMs: 1000, lease: { namespace: "ops", name: "audit" } });
    assert.throws(() => parseServeConfig(["--audit-lease", "no-slash"], {}), /^UsageError: --audit-lease "no-slash": expected NAMESPACE\/NAME/);
  });
});
