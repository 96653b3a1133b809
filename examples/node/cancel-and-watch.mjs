// SPDX-License-Identifier: MIT
// cancel-and-watch.mjs CALL_ID [CLIENT_CONTEXT] — cancels media processing on a call through
// mediacanceld and follows the operation to its end, with the json-rpc-2.0 package
// (npm install json-rpc-2.0@1.8.1) over the Unix socket. Copy and adapt.
// Socket: $MEDIACANCEL_SOCKET, else /run/mediacancel/mediacanceld.sock.
// Exit: 0 completed, 1 failed or unknown, 2 the daemon refused the request, 3 try again later.
import net from "node:net";
import { JSONRPCClient, JSONRPCErrorException } from "json-rpc-2.0";

const SETTLED = new Set(["completed", "failed", "unknown"]);
const RETRY_LATER = new Set(["Throttled", "TokenUnavailable", "GraphUnreachable", "Timeout", "LimitExceeded"]);
const [callId, clientContext] = process.argv.slice(2);
const sock = net.connect(process.env.MEDIACANCEL_SOCKET || "/run/mediacancel/mediacanceld.sock");

// One JSON text per line, both ways; the library matches replies to requests by id.
const client = new JSONRPCClient((request) => sock.write(JSON.stringify(request) + "\n"));
let onEvent = () => {};
let buffered = "";
sock.setEncoding("utf8");
sock.on("data", (chunk) => {
        const lines = (buffered + chunk).split("\n");
        buffered = lines.pop();
        for (const line of lines.filter(Boolean)) {
                const msg = JSON.parse(line);
                if (Array.isArray(msg) || msg.id !== undefined) client.receive(msg);
                else if (msg.method === "operation.changed") onEvent(msg.params.operation);
                // any other event: skip it, later versions may add some
        }
});
sock.on("close", () => client.rejectAllPendingRequests("the daemon closed the connection"));

function finish(code) {
        sock.end();
        process.exitCode = code;
}

try {
        const params = clientContext ? { callId, clientContext } : { callId };
        let { operation } = await client.request("cancel", params);
        console.log(`operation ${operation.id}: ${operation.status}`);
        const ended = new Promise((resolve) => {
                onEvent = (op) => {
                        console.log(`operation ${op.id}: ${op.status}`);
                        if (SETTLED.has(op.status)) resolve(op);
                };
        });
        ({ operation } = await client.request("operation.watch", { operationId: operation.id }));
        if (!SETTLED.has(operation.status)) operation = await ended;
        finish(operation.status === "completed" ? 0 : 1);
} catch (e) {
        if (!(e instanceof JSONRPCErrorException)) throw e;
        console.error(`${e.data.class}: ${e.message}`); // data.class is the stable name to branch on
        if (e.data.operationId) console.error(`operation ${e.data.operationId}`);
        finish(RETRY_LATER.has(e.data.class) ? 3 : 2);
}
