#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# make-test-ca.sh DIR — makes a throwaway certificate authority (DIR/ca.pem, DIR/ca.key) and a
# server certificate signed by it (DIR/server.pem, DIR/server.key) for 127.0.0.1 and localhost,
# valid a few days. The Graph stand-in serves with the server pair; the daemon and curl trust
# DIR/ca.pem. Every run regenerates all four files. Silent on success; on failure prints
# openssl's messages and exits non-zero.
#
# The extensions are the ones strict verifiers (OpenSSL's X509_STRICT, Python >= 3.13) demand:
# a critical basicConstraints on the CA, subject and authority key identifiers, a serverAuth EKU.
# P-256 keys keep the TLS handshakes cheap when tests open hundreds of connections.

set -euo pipefail

if [[ $# -ne 1 || -z $1 ]]; then
        echo "usage: $0 DIR" >&2
        exit 2
fi

dir=$1
days=${MAKE_TEST_CA_DAYS:-3}
mkdir -p "$dir"

work=$(mktemp -d "$dir/.make-test-ca.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Runs a command with its output kept aside; shows it only when the command fails.
quiet() {
        if ! "$@" >"$work/out" 2>&1; then
                echo "$0: failed: $*" >&2
                cat "$work/out" >&2
                exit 1
        fi
}

cat >"$work/ca.ext" <<'EOF'
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

cat >"$work/server.ext" <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

# The CA: key, then a self-signed certificate from a CSR so the extensions come from our file
# and not from whatever the system openssl.cnf adds by default.
quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ca.key"
quiet openssl req -new -key "$work/ca.key" -subj "/CN=mediacancel test CA $(date -u +%Y%m%d%H%M%S)" \
        -out "$work/ca.csr"
quiet openssl x509 -req -in "$work/ca.csr" -signkey "$work/ca.key" -days "$days" \
        -extfile "$work/ca.ext" -out "$work/ca.pem"

# The server certificate, signed by the CA; a random serial so regenerated certificates never
# collide with ones a client may have cached.
quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/server.key"
quiet openssl req -new -key "$work/server.key" -subj "/CN=localhost" -out "$work/server.csr"
quiet openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile "$work/server.ext" \
        -out "$work/server.pem"

quiet openssl verify -CAfile "$work/ca.pem" "$work/server.pem"

chmod 600 "$work/ca.key" "$work/server.key"
chmod 644 "$work/ca.pem" "$work/server.pem"

# Rename into place so a reader never sees a half-written file.
for f in ca.key ca.pem server.key server.pem; do
        mv -f "$work/$f" "$dir/$f"
done
