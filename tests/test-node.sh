#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test-node.sh — the protocol checked by tools no one here wrote (tests/node/): the rpc.discover
# document against the OpenRPC meta-schema (@open-rpc/schema-utils-js), every method's examples
# sent to a running daemon and the answers validated against the document's schemas (ajv), and
# a short session of two npm JSON-RPC clients (json-rpc-2.0, jayson), and the Node.js client of
# examples/ (tests/test-examples.sh node), each against a real daemon and the stand-in
# (tests/with-daemon.sh).
#
# The packages are the exact versions of tests/node/package-lock.json, installed with `npm ci`
# into the build tree (tests/node/node_modules there, never into the source tree unless both are
# the same), again only when the lock file changed. Needs the npm registry or npm's cache for
# that. Without node or npm: one line, exit 77 (skipped).
set -euo pipefail

BUILD=$(cd "${MEDIACANCEL_BUILDDIR:-.}" && pwd)
SRC=$(cd "${MEDIACANCEL_SRCDIR:-$(dirname "$0")/..}" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "test-node: node or npm not found; the Node.js protocol checks are skipped"
        exit 77
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
        echo "test-node: Node.js $(node --version) is older than 20; the Node.js protocol checks are skipped"
        exit 77
fi

export MEDIACANCEL_BUILDDIR="$BUILD" MEDIACANCEL_SRCDIR="$SRC"
DIR="$BUILD/tests/node"
mkdir -p "$DIR"
if [ "$DIR" != "$SRC/tests/node" ]; then
        cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" "$SRC"/tests/node/*.mjs "$DIR/"
        chmod u+w "$DIR"/* # from a read-only source tree (make distcheck)
fi
if ! cmp -s "$DIR/package-lock.json" "$DIR/node_modules/.installed-lock.json" 2>/dev/null; then
        (cd "$DIR" && npm ci --no-audit --no-fund --ignore-scripts --prefer-offline --loglevel=error) || {
                echo "test-node: npm ci failed in $DIR (is the npm registry reachable?)" >&2
                exit 1
        }
        cp "$DIR/package-lock.json" "$DIR/node_modules/.installed-lock.json"
fi

rc=0
for check in check-document.mjs check-clients.mjs; do
        echo "== $check"
        (cd "$DIR" && "$SRC/tests/with-daemon.sh" node "$check") || rc=1
done
# The Node.js client of examples/, where it finds the json-rpc-2.0 installed here: under
# node_modules, so that it goes with it and never lands in the source tree.
echo "== examples/node/cancel-and-watch.mjs"
mkdir -p "$DIR/node_modules/.examples"
cp "$SRC/examples/node/cancel-and-watch.mjs" "$DIR/node_modules/.examples/example-cancel-and-watch.mjs"
MEDIACANCEL_NODE_DIR="$DIR/node_modules/.examples" "$SRC/tests/test-examples.sh" node || rc=1
exit "$rc"
