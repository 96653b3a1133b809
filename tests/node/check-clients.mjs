// SPDX-License-Identifier: MIT
// check-clients.mjs — two JSON-RPC 2.0 client libraries from npm, used as a bot developer
// would, run a short session against a running daemon: status, a cancel, a bad callId (the
// InvalidParams class), a batch, an unknown method (MethodNotFound), a few concurrent cancels.
// json-rpc-2.0 over a newline-framed net.connect() to the Unix socket; jayson's TCP client
// (one connection per request, newline-delimited) on the Unix path.
// Needs MEDIACANCEL_SOCKET. Exit 0 pass, 1 fail.
import assert from "node:assert/strict";
import { JSONRPCClient, JSONRPCErrorException } from "json-rpc-2.0";
import jayson from "jayson";
import { connect } from "./socket.mjs";

const path = process.env.MEDIACANCEL_SOCKET;
assert.ok(path, "MEDIACANCEL_SOCKET is not set");
const CALL = "57dab8b1-894c-409a-b240-bd8beae78896";

// ---- json-rpc-2.0 ----
let sock;
const client = new JSONRPCClient((request) => {
        sock.write(JSON.stringify(request) + "\n");
});
sock = await connect(path, (line) => {
        const msg = JSON.parse(line);
        // Events (no id) are not replies; the library would complain about them.
        if (Array.isArray(msg) || msg.id !== undefined) client.receive(msg);
});

const status = await client.request("status");
assert.equal(typeof status.protocolVersion, "number");
const cancel = await client.request("cancel", { callId: CALL, clientContext: "json-rpc-2.0" });
assert.equal(cancel.operation.callId, CALL);
assert.equal(cancel.operation.clientContext, "json-rpc-2.0");
await assert.rejects(client.request("cancel", { callId: "not a call id" }), (e) => {
        assert.ok(e instanceof JSONRPCErrorException);
        assert.equal(e.code, -32602);
        assert.equal(e.data.class, "InvalidParams");
        assert.equal(e.data.param, "callId");
        return true;
});
await assert.rejects(client.request("no.such.method", {}), (e) => e.code === -32601 && e.data.class === "MethodNotFound");
const batch = await client.requestAdvanced([
        { jsonrpc: "2.0", id: 101, method: "status" },
        { jsonrpc: "2.0", id: 102, method: "operation.get", params: { operationId: cancel.operation.id } },
        { jsonrpc: "2.0", id: 103, method: "operation.get", params: { operationId: "no-such-operation" } },
]);
const byId = new Map(batch.map((r) => [r.id, r]));
assert.equal(byId.size, 3);
assert.ok(byId.get(101).result.version);
assert.equal(byId.get(102).result.operation.id, cancel.operation.id);
assert.equal(byId.get(103).error.data.class, "OperationNotFound");
const many = await Promise.all(
        Array.from({ length: 20 }, (_, i) => client.request("cancel", { callId: CALL, clientContext: `concurrent-${i}` })),
);
assert.equal(new Set(many.map((r) => r.operation.id)).size, 20);
sock.end();
console.log("json-rpc-2.0: status, cancel, InvalidParams, MethodNotFound, batch, 20 concurrent cancels");

// ---- jayson ----
const jc = jayson.client.tcp({ path });
const call = (method, params) =>
        new Promise((resolve, reject) => jc.request(method, params, (err, response) => (err ? reject(err) : resolve(response))));
const js = await call("status", {});
assert.ok(js.result.version);
const jcancel = await call("cancel", { callId: CALL, clientContext: "jayson" });
assert.equal(jcancel.result.operation.clientContext, "jayson");
const jbad = await call("cancel", { callId: "" });
assert.equal(jbad.error.code, -32602);
assert.equal(jbad.error.data.class, "InvalidParams");
const junknown = await call("no.such.method", {});
assert.equal(junknown.error.code, -32601);
const jbatch = await new Promise((resolve, reject) =>
        jc.request([jc.request("status", {}, undefined, false), jc.request("operation.list", { limit: 2 }, undefined, false)],
                (err, responses) => (err ? reject(err) : resolve(responses))),
);
assert.equal(jbatch.length, 2);
assert.ok(jbatch.every((r) => r.result));
console.log("jayson: status, cancel, InvalidParams, MethodNotFound, batch");
