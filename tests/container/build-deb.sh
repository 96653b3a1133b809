#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# build-deb.sh BUILDDIR OUTDIR [VERSION] — builds the Debian package the way a release is
# built: the release tree (make distdir in the configured BUILDDIR, so only what the tarball
# ships), then dpkg-buildpackage -us -uc -b in a copy of it. The .deb files (the package and
# its debug symbols) land in OUTDIR, the build log in OUTDIR/build-VERSION.log. With VERSION
# the copy is first moved to that version (scripts/set-version.sh), which is how the upgrade
# test gets "the next version". The suites are not run again (DEB_BUILD_OPTIONS=nocheck):
# scripts/test.sh has just run them on the same tree.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
        echo "usage: $0 BUILDDIR OUTDIR [VERSION]" >&2
        exit 2
fi
build=$(realpath "$1")
mkdir -p "$2"
out=$(realpath "$2")
version=${3:-}

work=$(mktemp -d "$out/.build-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT

make -C "$build" --no-print-directory distdir distdir="$work/mediacancel" >"$work/distdir.log" 2>&1 ||
        { cat "$work/distdir.log" >&2; echo "make distdir failed" >&2; exit 1; }
if [[ -n $version ]]; then
        "$work/mediacancel/scripts/set-version.sh" "$version" "Test build of the next version." >/dev/null
fi
version=$(cd "$work/mediacancel" && dpkg-parsechangelog -SVersion)
log="$out/build-$version.log"
if ! (cd "$work/mediacancel" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
        dpkg-buildpackage -us -uc -b -Pnocheck) >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "dpkg-buildpackage failed (whole log: $log)" >&2
        exit 1
fi
mv -f "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out/"
ls "$out"/mediacancel_"$version"_*.deb
