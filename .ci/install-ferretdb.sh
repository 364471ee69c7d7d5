#!/usr/bin/env bash
# Builds FerretDB (a MongoDB-wire-protocol server on SQLite) from the Go module proxy and caches the
# binary.  Prints the binary's path.
#
# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` does not work here: it asks the proxy
# for the module's version list (to check deprecation), which the proxy refuses (403), and a binary
# built as a dependency of another module panics because build/version/version.txt is empty in the
# module zip.  So: download the module at the pinned version, copy it, write version.txt, build.
set -euo pipefail

VERSION="${FERRETDB_VERSION:-v1.24.2}"
CACHE="${SIGOPT_HYPEROPT_CACHE:-$HOME/.cache/sigopt-hyperopt-ci}"
BIN="$CACHE/bin/ferretdb-$VERSION"

if [ -x "$BIN" ]; then
    echo "$BIN"
    exit 0
fi

command -v go >/dev/null 2>&1 || { echo "install-ferretdb: Go is required to build FerretDB" >&2; exit 1; }
mkdir -p "$CACHE/bin"
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

cd "$work"
go mod init ferretdb-fetch >/dev/null 2>&1
dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
echo "$VERSION" > "$work/src/build/version/version.txt"
cd "$work/src"
echo "install-ferretdb: building FerretDB $VERSION (takes a few minutes the first time)" >&2
GOFLAGS=-mod=mod go build -trimpath -o "$BIN.tmp" ./cmd/ferretdb
mv "$BIN.tmp" "$BIN"
echo "$BIN"
