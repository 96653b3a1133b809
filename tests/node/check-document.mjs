// SPDX-License-Identifier: MIT
// check-document.mjs — the rpc.discover document of a running daemon, checked by tools written
// elsewhere: @open-rpc/schema-utils-js against the OpenRPC meta-schema; then every method's
// examples are sent to the daemon and each answer is validated with ajv against the method's
// result schema (an operationId in an example is replaced by the id of the operation the cancel
// example made, and an authorization by a token the stand-in signed, as Graph signs its own:
// the daemon checks it, Authentication=jwt); an error answer's code must be one of the
// method's documented errors; the operation.changed events of a watch are validated against
// the event's schema. Needs MEDIACANCEL_SOCKET, MEDIACANCEL_STANDIN and MEDIACANCEL_CA
// (tests/with-daemon.sh). Exit 0 pass, 1 fail.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import https from "node:https";
import { validateOpenRPCDocument } from "@open-rpc/schema-utils-js";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { rawClient } from "./socket.mjs";

const path = process.env.MEDIACANCEL_SOCKET;
assert.ok(path, "MEDIACANCEL_SOCKET is not set");

// A fresh "Bearer <JWT>" for a notification body, signed by the stand-in's notification key.
function notificationToken() {
        const body = JSON.stringify({ variant: "good" });
        return new Promise((resolve, reject) => {
                const req = https.request(
                        `${process.env.MEDIACANCEL_STANDIN}/_standin/notification-token`,
                        { method: "POST", ca: readFileSync(process.env.MEDIACANCEL_CA), headers: { "Content-Type": "application/json" } },
                        (res) => {
                                let text = "";
                                res.setEncoding("utf8");
                                res.on("data", (chunk) => (text += chunk));
                                res.on("end", () => {
                                        try {
                                                resolve(JSON.parse(text).authorization);
                                        } catch (e) {
                                                reject(e);
                                        }
                                });
                        },
                );
                req.once("error", reject);
                req.end(body);
        });
}
assert.ok(process.env.MEDIACANCEL_STANDIN && process.env.MEDIACANCEL_CA, "MEDIACANCEL_STANDIN or MEDIACANCEL_CA is not set");

const events = [];
const c = await rawClient(path, (e) => events.push(e));
const reply = await c.call("rpc.discover");
assert.ok(reply.result, `rpc.discover: ${JSON.stringify(reply)}`);
const doc = reply.result;

const valid = validateOpenRPCDocument(doc);
if (valid !== true) {
        console.error(`the document is not valid OpenRPC: ${valid.message}`);
        process.exit(1);
}
console.log(`OpenRPC meta-schema: valid (${doc.methods.length} methods, openrpc ${doc.openrpc})`);

const ajv = new Ajv({ strict: true, allErrors: true });
addFormats(ajv);
function check(schema, value, what) {
        const validate = ajv.compile(schema);
        if (!validate(value)) {
                console.error(`${what}: ${ajv.errorsText(validate.errors)}\n  value: ${JSON.stringify(value)}`);
                process.exitCode = 1;
                return false;
        }
        return true;
}

let operationId = null;
let sent = 0;
for (const m of doc.methods) {
        assert.ok(m.examples.length > 0, `${m.name} has no example`);
        for (const ex of m.examples) {
                const params = {};
                for (const p of ex.params) {
                        const row = m.params.find((r) => r.name === p.name);
                        assert.ok(row, `${m.name}: example param ${p.name} is not a documented param`);
                        check(row.schema, p.value, `${m.name} example "${ex.name}", param ${p.name}`);
                        if (p.name === "operationId" && operationId) params[p.name] = operationId;
                        else if (p.name === "authorization") params[p.name] = await notificationToken();
                        else params[p.name] = p.value;
                }
                if (ex.result) check(m.result.schema, ex.result.value, `${m.name} example "${ex.name}", its result`);
                const answer = await c.call(m.name, params);
                sent++;
                if (answer.error) {
                        const codes = m.errors.map((e) => e.code);
                        assert.ok(codes.includes(answer.error.code), `${m.name}: undocumented error ${JSON.stringify(answer.error)}`);
                        console.error(`${m.name} example "${ex.name}": answered with an error: ${JSON.stringify(answer.error)}`);
                        process.exitCode = 1;
                        continue;
                }
                check(m.result.schema, answer.result, `${m.name} example "${ex.name}", the daemon's answer`);
                if (m.name === "cancel" && !operationId) operationId = answer.result.operation.id;
        }
}
console.log(`examples: ${sent} sent, answers validated against the result schemas`);

// Error answers carry documented codes and classes.
const components = doc.components.errors;
for (const [method, params] of [
        ["cancel", { callId: "../x" }],
        ["operation.get", { operationId: "no-such-operation" }],
        ["status", { verbose: true }],
        ["cancel", { callId: "57dab8b1-894c-409a-b240-bd8beae78896", tenantId: "northwind.example" }],
        ["notifications.deliver", { value: [] }],
]) {
        const answer = await c.call(method, params);
        assert.ok(answer.error, `${method}: expected an error`);
        const m = doc.methods.find((x) => x.name === method);
        assert.ok(m.errors.some((e) => e.code === answer.error.code), `${method}: code ${answer.error.code} not documented`);
        assert.equal(components[answer.error.data.class].code, answer.error.code);
}
const unknown = await c.call("no.such.method");
assert.equal(unknown.error.code, components.MethodNotFound.code);

// A watch's events against the event's schema, to the end of the operation.
const eventSpec = doc["x-events"].find((e) => e.name === "operation.changed");
assert.ok(eventSpec, "operation.changed is not in x-events");
const cancel = await c.call("cancel", { callId: "57dab8b1-894c-409a-b240-bd8beae78896", clientContext: "node-watch" });
const watch = await c.call("operation.watch", { operationId: cancel.result.operation.id });
check(doc.methods.find((x) => x.name === "operation.watch").result.schema, watch.result, "operation.watch answer");
const deadline = Date.now() + 60000;
const settled = new Set(["completed", "failed", "unknown"]);
while (!events.some((e) => settled.has(e.params.operation.status)) && !settled.has(watch.result.operation.status)) {
        assert.ok(Date.now() < deadline, "the operation did not settle within 60 s");
        await new Promise((r) => setTimeout(r, 100));
}
assert.ok(events.length > 0, "no operation.changed event");
for (const e of events) {
        assert.equal(e.method, eventSpec.name);
        for (const p of eventSpec.params) check(p.schema, e.params[p.name], `operation.changed param ${p.name}`);
}
console.log(`operation.changed: ${events.length} events validated, last status ${events.at(-1).params.operation.status}`);
c.close();
