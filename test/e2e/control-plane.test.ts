// End-to-end check of the test control plane itself: a real etcd +
// kube-apiserver with the DVP CRDs installed.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { e2eBinaries, processAlive as isAlive, startControlPlane, type ControlPlane } from "./control-plane.js";

const DVP_CRDS = [
  "moduleconfigs.deckhouse.io",
  "virtualmachineclasses.virtualization.deckhouse.io",
  "virtualmachineipaddresses.virtualization.deckhouse.io",
  "virtualmachineipaddressleases.virtualization.deckhouse.io",
  "virtualmachinepools.virtualization.deckhouse.io",
  "virtualmachines.virtualization.deckhouse.io",
];

const VMCLASS = `apiVersion: virtualization.deckhouse.io/v1alpha3
kind: VirtualMachineClass
metadata:
  name: e2e-host
spec:
  cpu:
    type: Host
`;


const bins = await e2eBinaries();

if (bins) {
  describe("e2e control plane (etcd + kube-apiserver)", () => {
    let cp: ControlPlane | undefined;
    const plane = (): ControlPlane => {
      assert.ok(cp, "control plane did not start");
      return cp;
    };

    before(async () => {
      cp = await startControlPlane({ binaries: bins });
      console.log(
        `e2e: control plane at ${cp.url}: /readyz after ${cp.timings.readyMs} ms, CRDs Established after ${cp.timings.totalMs} ms`,
      );
    });

    after(async () => {
      await cp?.stop();
    });

    test("kubectl version reports a v1.33 server", async () => {
      const r = await plane().kubectl(["version", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      const v = JSON.parse(r.stdout) as { serverVersion?: { gitVersion?: string; major?: string; minor?: string } };
      assert.match(v.serverVersion?.gitVersion ?? "", /^v1\.33\.\d+$/);
      assert.equal(v.serverVersion?.major, "1");
      assert.equal(v.serverVersion?.minor, "33");
    });

    test("the 6 vendored DVP CRDs are Established", async () => {
      assert.deepEqual([...plane().crds].sort(), DVP_CRDS);
      const r = await plane().kubectl([
        "get",
        "crd",
        ...DVP_CRDS,
        "-o",
        'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n").sort();
      assert.deepEqual(
        lines,
        DVP_CRDS.map((n) => `${n}=True`),
      );
    });

    test("a minimal VirtualMachineClass v1alpha3 can be applied and read back", async () => {
      const applied = await plane().kubectl(["apply", "-f", "-"], { input: VMCLASS });
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /virtualmachineclass\.virtualization\.deckhouse\.io\/e2e-host (created|configured)/);

      const got = await plane().kubectl(["get", "virtualmachineclasses.v1alpha3.virtualization.deckhouse.io", "e2e-host", "-o", "json"]);
      assert.equal(got.code, 0, got.stderr);
      const obj = JSON.parse(got.stdout) as { apiVersion?: string; kind?: string; metadata?: { name?: string }; spec?: { cpu?: { type?: string } } };
      assert.equal(obj.apiVersion, "virtualization.deckhouse.io/v1alpha3");
      assert.equal(obj.kind, "VirtualMachineClass");
      assert.equal(obj.metadata?.name, "e2e-host");
      assert.equal(obj.spec?.cpu?.type, "Host");
    });

    test("the CRD's CEL rules are enforced by the apiserver", async () => {
      // HostPassthrough/Host must not carry a model: rejected by x-kubernetes-validations.
      const bad = VMCLASS.replace("e2e-host", "e2e-bad").replace("type: Host", "type: Host\n    model: Haswell");
      const r = await plane().kubectl(["apply", "-f", "-"], { input: bad });
      assert.notEqual(r.code, 0, "expected the apiserver to reject the object");
      assert.match(r.stderr, /HostPassthrough and Host cannot have model, features or\s+discovery/);
    });

    test("stop() terminates etcd and kube-apiserver", async () => {
      const c = plane();
      const { apiserver, etcd } = c.pids;
      assert.ok(isAlive(apiserver) && isAlive(etcd), "processes should be running before stop()");
      await c.stop();
      assert.equal(isAlive(apiserver), false, `kube-apiserver pid ${apiserver} still alive`);
      assert.equal(isAlive(etcd), false, `etcd pid ${etcd} still alive`);
      assert.equal(existsSync(c.dir), false, `${c.dir} was not removed`);
      await c.stop(); // idempotent
    });
  });
}
