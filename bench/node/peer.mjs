// SPDX-License-Identifier: MIT
// bench/node/peer.mjs — the Node.js peer of the benchmark: what a service would do in-process
// instead of asking mediacanceld. @azure/msal-node gets the app-only token from the stand-in
// (served from MSAL's cache afterwards); the global fetch (undici, keep-alive connection pool)
// sends the cancels from CONCURRENCY async workers, as many in flight as the daemon gets.
// Prints one JSON object in bench/loadgen's format. Run with NODE_EXTRA_CA_CERTS set to the
// stand-in's CA.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfidentialClientApplication } from "@azure/msal-node";

const { values: a } = parseArgs({
  options: {
    authority: { type: "string" },
    "client-id": { type: "string" },
    "secret-file": { type: "string" },
    url: { type: "string" },
    concurrency: { type: "string", default: "64" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "0" },
    requests: { type: "string", default: "0" },
  },
});
const concurrency = Number(a.concurrency);
const duration = Number(a.duration) * 1e3;
const warmup = Number(a.warmup) * 1e3;
const total = Number(a.requests);

const authorityHost = new URL(a.authority).host;
const app = new ConfidentialClientApplication({
  auth: {
    clientId: a["client-id"],
    clientSecret: readFileSync(a["secret-file"], "utf8").trim(),
    authority: a.authority,
    knownAuthorities: [authorityHost], // no instance discovery against the real cloud
  },
});
const scopes = [`${a.url}/.default`];
await app.acquireTokenByClientCredential({ scopes });

const hex = (n, w) => n.toString(16).padStart(w, "0");
const now = () => performance.now();
const start = now();
const measureFrom = start + warmup;
const stopAt = measureFrom + duration;
let seq = 0, sent = 0, completed = 0, errors = 0, counted = 0, firstError = null;
let firstSend = null, lastAnswer = start;
const lat = [];

async function worker() {
  for (;;) {
    if (total ? sent >= total : now() >= stopAt) return;
    const n = seq++;
    sent++;
    const callId = `${hex(Math.imul(n, 2654435761) >>> 0, 8)}-0000-4000-8000-${hex(n, 12)}`;
    const { accessToken } = await app.acquireTokenByClientCredential({ scopes });
    const t0 = now();
    if (firstSend === null) firstSend = t0;
    let err = null;
    try {
      const r = await fetch(`${a.url}/v1.0/communications/calls/${callId}/cancelMediaProcessing`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${accessToken}`,
          "Content-Type": "application/json",
          Accept: "application/json",
          "client-request-id": `${hex(n >>> 0, 8)}-0000-4000-8000-${hex(n, 12)}`,
        },
        body: JSON.stringify({ clientContext: `bench-${n}` }),
      });
      const body = await r.json();
      if (r.status !== 200 || !body.id) err = `HTTP ${r.status} ${JSON.stringify(body).slice(0, 200)}`;
    } catch (e) {
      err = String(e);
    }
    const t1 = now();
    completed++;
    lastAnswer = t1;
    if (err) {
      errors++;
      firstError ??= err;
    }
    if (total || (t0 >= measureFrom && t0 < stopAt)) {
      counted++;
      if (!err) lat.push(Math.round((t1 - t0) * 1e3));
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
lat.sort((x, y) => x - y);
const pct = (p) => (lat.length ? lat[Math.max(Math.ceil((p / 100) * lat.length), 1) - 1] : 0);
const seconds = total ? (lastAnswer - firstSend) / 1e3 : duration / 1e3;
const out = {
  mode: "node-msal-fetch", concurrency, sent, completed, counted, errors, seconds,
  throughput: seconds > 0 ? counted / seconds : 0,
  mean_us: lat.length ? lat.reduce((s, x) => s + x, 0) / lat.length : 0,
  p50_us: pct(50), p90_us: pct(90), p99_us: pct(99), p999_us: pct(99.9), max_us: lat.at(-1) ?? 0,
};
if (total) out.makespan_ms = seconds * 1e3;
if (firstError) out.first_error = firstError;
console.log(JSON.stringify(out));
process.exit(0);
