# SPDX-License-Identifier: MIT
# Shared by demo.sh and test.sh: install what the build needs on Debian 12 (only what is
# missing, so a prepared machine pays nothing) and build the tree in ./build.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$TOP/build"

DEPS="build-essential autoconf automake libtool pkg-config libcurl4-openssl-dev libjson-c-dev
      libsystemd-dev libssl-dev check python3 openssl systemd socat jq"

install_deps() {
        local missing=()
        for p in $DEPS; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        echo "Installing: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build_tree() {
        local configure_args=("$@")
        (cd "$TOP" && ./autogen.sh >/dev/null 2>&1) || { echo "autogen.sh failed" >&2; return 1; }
        mkdir -p "$BUILD"
        (cd "$BUILD" && "$TOP/configure" --quiet "${configure_args[@]}" >/dev/null) || { echo "configure failed" >&2; return 1; }
        make -C "$BUILD" -j"$(nproc)" --no-print-directory >/dev/null
}
