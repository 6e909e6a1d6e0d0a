/**
 * Engine benchmark (issue 2): one request evaluated against the full shipped policy set, next to
 * JSON.parse of the same review, which is the floor no evaluator can go below.
 *
 *   npm run bench            # default iterations
 *   BENCH_ITERATIONS=50000 npm run bench
 */
import { decodeReview, encodeResponse } from "../src/admission/review.js";
import { ObjectStore } from "../src/cluster/object-store.js";
import { bindParameters, evaluate, loadPolicySet, type JsonObject, type JsonValue } from "../src/engine/index.js";
import { precompiledExpressions } from "../src/policy-files/cel-cache.js";
import { loadPolicyDir, readPolicySources, SHIPPED_POLICIES } from "../src/policy-files/policy-dir.js";
import { fixture, fixtureObjects } from "../test/support/fixtures.js";
import { policyDoc } from "../test/support/policy-doc.js";
import { admissionReview } from "../test/support/review.js";
import { measure, measurePair, micros, type Summary } from "./stats.js";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20000);
const LEASES = 50_000;
const NODES = 1_000;

const set = loadPolicyDir();
// The same set on @bufbuild/cel's interpreter (VIRTGUARD_CEL=interpreter), the engine before the compiler.
const interpreted = loadPolicySet(readPolicySources(SHIPPED_POLICIES), { parsed: precompiledExpressions(), engine: "interpreter" });
const params = bindParameters(set, { edition: "EE", kubernetesVersion: "v1.33.4", featureGates: ["SDN", "VerticalVirtualMachineAutoscaler", "HotplugCPUAndMemoryWithInPlaceResize"] });

function leaseName(i: number): string {
  // 50,000 leases spread over 10.66.0.0/16 (inside the ModuleConfig's CIDRs below).
  return `ip-10-66-${(i >> 8) & 255}-${i & 255}`;
}

function bigContext(): ObjectStore {
  const store = new ObjectStore(set.indexes);
  for (const o of [...fixtureObjects("cluster/cluster-configuration.yaml"), fixture("class/host-sized-v1alpha2.yaml")]) store.upsert(o);
  for (let i = 0; i < LEASES; i++) {
    store.upsert({
      apiVersion: "virtualization.deckhouse.io/v1alpha2",
      kind: "VirtualMachineIPAddressLease",
      metadata: { name: leaseName(i) },
      spec: { virtualMachineIPAddressRef: { name: `vm-${i}`, namespace: "tenant" } },
    });
  }
  for (let i = 0; i < NODES; i++) {
    store.upsert({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: `node-${i}` },
      status: { addresses: [{ type: "InternalIP", address: `192.168.${i >> 8}.${i & 255}` }, { type: "Hostname", address: `node-${i}` }] },
    });
  }
  return store;
}

const t0 = performance.now();
const store = bigContext();
const contextMs = performance.now() - t0;

const moduleConfig = fixture("moduleconfig/virtualization.yaml");
const settings = (moduleConfig.spec as { settings: { virtualMachineCIDRs: string[] } }).settings;
settings.virtualMachineCIDRs = ["10.66.0.0/16", "10.67.0.0/16"];
store.upsert(moduleConfig);
const newModuleConfig = structuredClone(moduleConfig);
(newModuleConfig.spec as { settings: { virtualMachineCIDRs: string[] } }).settings.virtualMachineCIDRs = ["10.66.0.0/16"];
(newModuleConfig.metadata as { generation: number }).generation = 4;

const vm = fixture("vm/vm-basic.yaml");

/** The VM as the API server sends it after `kubectl apply`: server fields, managedFields, last-applied. */
function asApplied(object: JsonObject): JsonObject {
  const applied = structuredClone(object);
  const metadata = applied.metadata as JsonObject;
  const fieldsOf = (o: JsonValue): JsonValue =>
    o && typeof o === "object" && !Array.isArray(o) ? Object.fromEntries(Object.entries(o).map(([k, v]) => [`f:${k}`, fieldsOf(v)])) : {};
  Object.assign(metadata, {
    uid: "6a0f4b1e-3d55-4b4c-9a51-0c6e9e2f7d10",
    generation: 1,
    creationTimestamp: "2026-11-22T10:00:00Z",
    annotations: { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify(object) },
    managedFields: [
      {
        manager: "kubectl-client-side-apply",
        operation: "Update",
        apiVersion: String(object.apiVersion),
        time: "2026-11-22T10:00:00Z",
        fieldsType: "FieldsV1",
        fieldsV1: { "f:metadata": { "f:annotations": { ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {} } }, "f:spec": fieldsOf(object.spec as JsonValue) },
      },
    ],
  });
  return applied;
}
const vmClass = fixture("class/host-sized-v1alpha3.yaml");
(vmClass.metadata as { name: string }).name = "host-sized-2";

const cases: { name: string; review: JsonObject }[] = [
  { name: "VirtualMachine CREATE", review: admissionReview({ object: vm }) },
  { name: "VirtualMachine CREATE, as kubectl apply sends it", review: admissionReview({ object: asApplied(vm) }) },
  { name: "VirtualMachineClass CREATE", review: admissionReview({ object: vmClass }) },
  { name: `ModuleConfig UPDATE (${LEASES / 1000}k leases, ${NODES} nodes)`, review: admissionReview({ object: newModuleConfig, oldObject: moduleConfig }) },
];

const rows: string[][] = [];
for (const c of cases) {
  const text = JSON.stringify(c.review);
  const request = decodeReview(JSON.parse(text));
  const sanity = evaluate(set, request, { context: store, params });
  // The floor and the evaluation timed alternately: the ratio compares the same moments.
  const [floor, evalOnly] = measurePair(() => JSON.parse(text), () => evaluate(set, request, { context: store, params }), ITERATIONS);
  const interpreter: Summary = measure(() => evaluate(interpreted, request, { context: store, params }), Math.max(200, ITERATIONS / 10));
  const full: Summary = measure(() => {
    const r = decodeReview(JSON.parse(text));
    return JSON.stringify(encodeResponse(r.uid, evaluate(set, r, { context: store, params })));
  }, ITERATIONS);
  rows.push([
    c.name,
    micros(evalOnly.median),
    micros(evalOnly.p99),
    micros(full.median),
    micros(full.p99),
    micros(floor.median),
    micros(floor.p99),
    `${(evalOnly.median / floor.median).toFixed(2)}×`,
    micros(interpreter.median),
    `${sanity.matched.length} matched, ${sanity.allowed ? "allowed" : `denied ×${sanity.denials.length}`}`,
  ]);
}

const header = ["request", "evaluate median µs", "evaluate p99 µs", "parse→evaluate→encode median µs", "p99 µs", "JSON.parse median µs", "JSON.parse p99 µs", "evaluate / JSON.parse", "interpreter median µs", "verdict"];
console.log(`virtguard engine benchmark: ${set.policies.length} policies, ${ITERATIONS} iterations each, node ${process.version}`);
console.log(`context: ${LEASES} leases + ${NODES} nodes loaded and indexed in ${contextMs.toFixed(0)} ms; heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
console.log("");
console.log(`| ${header.join(" | ")} |`);
console.log(`|${header.map(() => "---").join("|")}|`);
for (const r of rows) console.log(`| ${r.join(" | ")} |`);

/*
 * List macros: one policy whose rules walk a list of N items, so the per-item cost of the
 * generated loops shows apart from the evaluator's fixed cost (target: ≤ 0.2 µs per item).
 */
const ITEMS = 10_000;
const macroSet = loadPolicySet([
  {
    file: "<bench>",
    text: JSON.stringify(
      policyDoc("list-macros", {
        description: "list macros over spec.items",
        match: { resourceRules: [{ apiGroups: ["virtualization.deckhouse.io"], apiVersions: ["*"], resources: ["virtualmachines"], operations: ["CREATE"] }] },
        validations: [
          { expression: "object.spec.items.all(i, i.size > 0 && i.name != '')", message: "all", action: "Deny" },
          { expression: "object.spec.items.filter(i, i.size > 5).map(i, i.name).size() >= 0", message: "filter+map", action: "Deny" },
        ],
      }),
    ),
  },
]);
const listVm = structuredClone(vm);
(listVm.spec as JsonObject).items = Array.from({ length: ITEMS }, (_, i) => ({ name: `item-${i}`, size: i % 10 }));
const listRequest = decodeReview(JSON.parse(JSON.stringify(admissionReview({ object: listVm }))));
const macroParams = bindParameters(macroSet, {});
const listRun = measure(() => evaluate(macroSet, listRequest, { context: store, params: macroParams }), 200, 50);
// all() visits every item once; filter() every item, map() the half that pass: 2.5 visits per item.
console.log("");
console.log(`list macros over ${ITEMS} items (all, then filter+map): ${micros(listRun.median)} µs median, ${((listRun.median / 1000 / ITEMS / 2.5) * 1000).toFixed(1)} ns per item visited (target ≤ 200 ns)`);
