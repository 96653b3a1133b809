#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# set-version.sh VERSION [CHANGE] — makes VERSION the product's version: AC_INIT in
# configure.ac (where every build takes it from), a new debian/changelog entry saying CHANGE
# (debian/rules refuses to build when the two differ) and the footer of the manual pages.
# Run it in the source tree (or a copy of it: tests/container/build-deb.sh does, for the
# upgrade test's next version).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || ! $1 =~ ^[0-9][0-9A-Za-z.+~]*$ ]]; then
        echo "usage: $0 VERSION [CHANGE]   (VERSION like 0.2.0)" >&2
        exit 2
fi
version=$1
change=${2:-New upstream version $version.}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

sed -i -E "s/^(AC_INIT\(\[mediacancel\], *\[)[^]]*\]/\1$version]/" "$top/configure.ac"
grep -q "^AC_INIT(\[mediacancel\], *\[$version\]" "$top/configure.ac" ||
        { echo "$0: AC_INIT in configure.ac not found or not changed" >&2; exit 1; }

maintainer=$(sed -n 's/^Maintainer: *//p' "$top/debian/control")
entry=$(mktemp)
trap 'rm -f "$entry"' EXIT
{
        printf 'mediacancel (%s) bookworm; urgency=medium\n\n' "$version"
        printf '%s\n' "$change" | fold -s -w 74 | sed -e 's/ *$//' -e '1s/^/  * /' -e '2,$s/^/    /'
        printf '\n -- %s  %s\n\n' "$maintainer" "$(LC_ALL=C date -R)"
        cat "$top/debian/changelog"
} >"$entry"
cp "$entry" "$top/debian/changelog"

sed -i -E "1,10s/^(\.TH .*\"mediacancel )[^\"]*\"/\1$version\"/" "$top"/docs/man/*.[1-8]
echo "Version $version: configure.ac, debian/changelog, docs/man/*."
