#!/usr/bin/env bash
# referrers-registry.sh - build the test registry that serves the OCI 1.1 referrers API:
# go-containerregistry's pkg/registry (Debian trixie golang-github-google-go-containerregistry-dev
# 0.20.1, Go source) compiled with Debian's golang-1.24 (trixie) by scripts/referrers-registry/
# main.go. Packages come from the machine's Debian mirror with `apt-get download` + `dpkg -x`
# into .tools/ (never installed into the system), as scripts/reference-tools.sh does; nothing
# else is downloaded (GOPATH mode, GOTOOLCHAIN=local, no module proxy). Idempotent; prints the
# binary's path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOOLS=${PROVCHECK_TOOLS:-$PWD/.tools}
BIN=$TOOLS/bin/referrers-registry
SRC=$PWD/scripts/referrers-registry/main.go
if [[ -x $BIN && $BIN -nt $SRC ]]; then echo "$BIN"; exit 0; fi

APT=$TOOLS/apt
GO=$TOOLS/go
mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$GO/debs" "$GO/root" "$TOOLS/bin"
opts=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o "Dir::Etc::sourceparts=$APT/none"
      -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache::archives=$APT/archives")
if [[ ! -s $APT/sources.list ]]; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $mirror ]] || { echo "referrers-registry: no Debian mirror in the apt sources" >&2; exit 1; }
  printf 'deb %s trixie main\n' "$mirror" > "$APT/sources.list"
fi
if [[ ! -x $GO/root/usr/lib/go-1.24/bin/go ]]; then
  apt-get "${opts[@]}" update -qq >&2
  ( cd "$GO/debs" && apt-get "${opts[@]}" download golang-1.24-go golang-1.24-src \
      golang-github-google-go-containerregistry-dev >&2 )
  for deb in "$GO"/debs/*.deb; do dpkg -x "$deb" "$GO/root"; done
  rm -f "$GO"/debs/*.deb
fi
work=$GO/build/src/referrers-registry
mkdir -p "$work"
cp "$SRC" "$work/main.go"
env GOROOT="$GO/root/usr/lib/go-1.24" GOPATH="$GO/root/usr/share/gocode:$GO/build" \
  GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off GOFLAGS= CGO_ENABLED=0 \
  GOCACHE="$GO/cache" "$GO/root/usr/lib/go-1.24/bin/go" build -o "$BIN.tmp" referrers-registry >&2
mv "$BIN.tmp" "$BIN"
echo "$BIN"
