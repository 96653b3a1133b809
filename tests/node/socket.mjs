// SPDX-License-Identifier: MIT
// socket.mjs — one connection to mediacanceld's Unix socket, newline-framed: JSON texts out,
// each line in handed to onLine (replies and operation.changed events alike). Shared by the
// checks in this directory; knows nothing of JSON-RPC itself.
import net from "node:net";

export function connect(path, onLine) {
        return new Promise((resolve, reject) => {
                const sock = net.connect({ path });
                let buf = "";
                sock.setEncoding("utf8");
                sock.on("data", (chunk) => {
                        buf += chunk;
                        let nl;
                        while ((nl = buf.indexOf("\n")) >= 0) {
                                const line = buf.slice(0, nl);
                                buf = buf.slice(nl + 1);
                                if (line.length > 0) onLine(line);
                        }
                });
                sock.once("connect", () => resolve(sock));
                sock.once("error", reject);
        });
}

// A raw caller: call(method, params) resolves with the whole reply object, matched by id;
// events (no id) go to onEvent.
export async function rawClient(path, onEvent = () => {}) {
        const pending = new Map();
        let next = 1;
        const sock = await connect(path, (line) => {
                const msg = JSON.parse(line);
                if (Array.isArray(msg) || msg.id === undefined) {
                        if (!Array.isArray(msg)) onEvent(msg);
                        return;
                }
                const p = pending.get(msg.id);
                if (p) {
                        pending.delete(msg.id);
                        p(msg);
                }
        });
        return {
                call(method, params) {
                        const id = `raw-${next++}`;
                        const req = { jsonrpc: "2.0", id, method };
                        if (params !== undefined) req.params = params;
                        return new Promise((resolve) => {
                                pending.set(id, resolve);
                                sock.write(JSON.stringify(req) + "\n");
                        });
                },
                close() {
                        sock.end();
                },
        };
}
