// The List reader and listItems: a collection read item by item as the response arrives (a list
// from the API server's watch cache ignores `limit` and comes whole: 65 MB for 50,000 VMs).

import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import type { JsonObject } from "../../src/engine/index.js";
import { ApiError, listItems } from "../../src/cluster/live/api-client.js";
import { ListReader, ListSyntaxError } from "../../src/cluster/live/list-reader.js";

/** Items whose strings hold everything the reader must not take for structure. */
const TRICKY: JsonObject[] = [
  { apiVersion: "v1", kind: "Node", metadata: { name: "a", annotations: { note: 'braces } { and ] [ and "quotes" and a \\ backslash' } } },
  { apiVersion: "v1", kind: "Node", metadata: { name: "ü-é-日本", labels: {} }, spec: { items: [1, [2, { items: [] }]], empty: "" } },
  { apiVersion: "v1", kind: "Node", metadata: { name: "c" }, status: { addresses: [{ type: "InternalIP", address: "10.0.0.1" }], text: "\\\\\"" } },
];

function read(chunks: readonly string[]): { items: JsonObject[]; rest: JsonObject } {
  const items: JsonObject[] = [];
  const reader = new ListReader((item) => items.push(item));
  for (const c of chunks) reader.write(c);
  return { items, rest: reader.end() };
}

describe("ListReader", () => {
  const crdList = JSON.stringify({ apiVersion: "v1", items: TRICKY, kind: "NodeList", metadata: { continue: "", resourceVersion: "42" } });
  const builtinList = JSON.stringify({ kind: "NodeList", apiVersion: "v1", metadata: { resourceVersion: "42", continue: "abc" }, items: TRICKY });

  test("hands out every item, and the rest with items: [], however the response is cut", () => {
    for (const text of [crdList, builtinList]) {
      const expectedRest = { ...(JSON.parse(text) as JsonObject), items: [] };
      for (let cut = 0; cut <= text.length; cut++) {
        const { items, rest } = read([text.slice(0, cut), text.slice(cut)]);
        assert.deepEqual(items, TRICKY, `cut at ${cut}`);
        assert.deepEqual(rest, expectedRest, `cut at ${cut}`);
      }
    }
  });

  test("one character at a time (an escape and a key split across chunks)", () => {
    const { items, rest } = read([...builtinList]);
    assert.deepEqual(items, TRICKY);
    assert.deepEqual(rest.metadata, { resourceVersion: "42", continue: "abc" });
  });

  test("an empty list, a null items and pretty-printed JSON", () => {
    assert.deepEqual(read(['{"items":[],"metadata":{"resourceVersion":"7"}}']), { items: [], rest: { items: [], metadata: { resourceVersion: "7" } } });
    assert.deepEqual(read(['{"items":null,"kind":"List"}']), { items: [], rest: { items: null, kind: "List" } });
    const pretty = JSON.stringify({ metadata: {}, items: TRICKY }, null, 2);
    assert.deepEqual(read([pretty]).items, TRICKY);
  });

  test("only the top-level items array is streamed: an items key inside metadata is just data", () => {
    const { items, rest } = read(['{"metadata":{"items":[{"a":1}]},"items":[{"b":2}]}']);
    assert.deepEqual(items, [{ b: 2 }]);
    assert.deepEqual(rest, { metadata: { items: [{ a: 1 }] }, items: [] });
  });

  test("bad input is a ListSyntaxError naming the problem", () => {
    assert.throws(() => read(['{"items":[{"a":1},{"b":']), (e: unknown) => e instanceof ListSyntaxError && /ended inside the list/.test(e.message));
    assert.throws(() => read(['{"items":[{"a":1}, 3]}']), (e: unknown) => e instanceof ListSyntaxError && /element of items is not an object \(at "3]}"\)/.test(e.message));
    assert.throws(() => read(['{"items":["x"]}']), /element of items is not an object/);
    assert.throws(() => read(['{"items":[{"a":1},{"b" 2}]}']), (e: unknown) => e instanceof ListSyntaxError && /^item 2: /.test(e.message));
    assert.throws(() => read(['{"items":[]}}']), /unbalanced brackets/);
    assert.throws(() => read(["[1,2]"]), /not a JSON object/);
  });
});

/** A plain-HTTP "API server" on loopback answering one path with a handler. */
async function server(handler: http.RequestListener): Promise<{ kc: KubeConfig; close(): Promise<void> }> {
  const srv = http.createServer(handler);
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return {
    kc,
    close: () =>
      new Promise((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      }),
  };
}

describe("listItems", () => {
  test("items arrive while the response is still being sent, and the metadata at its end", async () => {
    const n = 20_000;
    let seen = 0;
    let firstSeen: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (firstSeen = resolve));
    let seenBeforeEnd = -1;
    const items = Array.from({ length: n }, (_, i) => JSON.stringify({ kind: "VirtualMachine", metadata: { name: `vm-${i}`, namespace: "t" } }));
    const api = await server((req, res) => {
      assert.equal(req.url, "/apis/x/v1/vms?limit=500");
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"apiVersion":"x/v1","items":[${items.slice(0, 100).join(",")},`);
      // The rest only once the client has parsed an item (or after 5 s, failing the assertion below).
      void Promise.race([first, new Promise((r) => setTimeout(r, 5000))]).then(() => {
        seenBeforeEnd = seen;
        res.end(`${items.slice(100).join(",")}],"kind":"VirtualMachineList","metadata":{"resourceVersion":"99","continue":"next"}}`);
      });
    });
    try {
      const names: string[] = [];
      const metadata = await listItems(api.kc, "/apis/x/v1/vms?limit=500", (item) => {
        seen++;
        firstSeen();
        names.push((item.metadata as { name: string }).name);
      });
      assert.ok(seenBeforeEnd > 0, "no item was handed out before the response ended");
      assert.equal(names.length, n);
      assert.equal(names[n - 1], `vm-${n - 1}`);
      assert.deepEqual(metadata, { resourceVersion: "99", continue: "next" });
    } finally {
      await api.close();
    }
  });

  test("an error status is an ApiError with the API server's message; a broken body says so", async () => {
    const api = await server((req, res) => {
      if (req.url === "/forbidden") {
        res.writeHead(403, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "Status", message: 'vms is forbidden: User "u" cannot list', reason: "Forbidden" }));
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"items":[{"a":1},{"b":}]}');
    });
    try {
      await assert.rejects(listItems(api.kc, "/forbidden", () => undefined), (e: unknown) => e instanceof ApiError && e.statusCode === 403 && e.reason === "Forbidden" && /403 vms is forbidden/.test(e.message));
      await assert.rejects(listItems(api.kc, "/broken", () => undefined), (e: unknown) => e instanceof ApiError && /GET \/broken: response is not JSON: item 2: /.test(e.message));
    } finally {
      await api.close();
    }
  });
});
