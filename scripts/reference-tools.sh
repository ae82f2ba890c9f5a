#!/usr/bin/env bash
# reference-tools.sh - fetch the reference clients the tests compare provcheck against:
# docker-buildx 0.13.1 (`buildx imagetools inspect`, run standalone), cosign and oras, all
# Debian packages from trixie. They are unpacked into .tools/ with `apt-get download` +
# `dpkg -x`, never installed into the system. Idempotent; prints the tools directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOOLS=${PROVCHECK_TOOLS:-$PWD/.tools}
BIN=$TOOLS/bin
if [[ -x $BIN/buildx && -x $BIN/cosign && -x $BIN/oras ]]; then echo "$BIN"; exit 0; fi

APT=$TOOLS/apt
mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$TOOLS/debs" "$TOOLS/root" "$BIN"
opts=(-o "Dir::Etc::sourcelist=$APT/sources.list" -o Dir::Etc::sourceparts=-
      -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache::archives=$APT/archives")
if [[ ! -s $APT/sources.list ]]; then
  # the machine's own Debian mirror, as its apt sources name it
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $mirror ]] || { echo "reference-tools: no Debian mirror in the apt sources" >&2; exit 1; }
  printf 'deb %s trixie main\n' "$mirror" > "$APT/sources.list"
fi
apt-get "${opts[@]}" update -qq >&2
( cd "$TOOLS/debs" && apt-get "${opts[@]}" download docker-buildx cosign oras >&2 )
for deb in "$TOOLS"/debs/*.deb; do dpkg -x "$deb" "$TOOLS/root"; done
ln -sf "$TOOLS/root/usr/libexec/docker/cli-plugins/docker-buildx" "$BIN/buildx"
ln -sf "$TOOLS/root/usr/bin/cosign" "$BIN/cosign"
ln -sf "$TOOLS/root/usr/bin/oras" "$BIN/oras"
echo "$BIN"
