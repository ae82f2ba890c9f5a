#!/usr/bin/env bash
# check.sh [PYTEST ARGS...] - the full check: system deps, venv, lint, types, tests.
# Idempotent; safe as root on a fresh Debian 12 with Python 3.11. Stops at the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[check] %s\n' "$*" >&2; }

# 1. Debian packages the tests use as real peers. Each is installed only when missing; a test
# that needs a missing one skips locally and fails with CI=true.
#   need COMMAND PACKAGE [SERVICE] WHAT: install PACKAGE when COMMAND is missing, and stop the
#   SERVICE the package starts (the tests start their own instances on free loopback ports).
need() {
  local command=$1 package=$2 service=$3 what=$4
  command -v "$command" >/dev/null 2>&1 && return 0
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
      log "$package missing and not root (no sudo): $what will skip, or fail with CI=true"
      return 0
    fi
  fi
  log "installing $package"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"
  [[ -n $service ]] || return 0
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    "${sudo[@]}" service "$service" stop >/dev/null 2>&1 || true
  fi
}
need docker-registry docker-registry docker-registry "registry tests"        # distribution 2.8, :5000
need redis-server redis-server redis-server "Redis cache tests"               # :6379, no persistence
need chromium chromium "" "the audit HTML screenshot test"                    # headless, no service
need kubectl kubernetes-client "" "the Kubernetes YAML checks"                # offline (--local), no cluster
need unshare util-linux "" "the offline evidence-pack replay"                 # a network namespace

# 2. the reference clients the tests compare against (buildx, cosign, oras), into .tools/
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  if ! bash scripts/reference-tools.sh >/dev/null; then
    [[ ${CI:-} == true ]] && { log "cannot fetch the reference tools"; exit 1; }
    log "reference tools unavailable: their comparison tests will skip"
  fi
  # a registry with the OCI 1.1 referrers API (go-containerregistry's, built from Debian's Go
  # source package with Debian's Go), into .tools/bin/referrers-registry
  if ! bash scripts/referrers-registry.sh >/dev/null; then
    [[ ${CI:-} == true ]] && { log "cannot build the referrers registry"; exit 1; }
    log "referrers registry unavailable: its tests will skip"
  fi
fi

# 3. virtualenv with the project and its test/lint extras
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  python3 -m venv .venv
fi
log "pip install -e .[test,lint,sigstore,redis,serve]"
.venv/bin/pip install -q -e '.[test,lint,sigstore,redis,serve]'

# 4. lint, format, types, tests (in that order)
log "ruff check"
.venv/bin/ruff check .
log "ruff format --check"
.venv/bin/ruff format --check .
log "mypy"
.venv/bin/mypy
log "pytest"
rc=0
.venv/bin/python -m pytest -q "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
  log "pytest collected no tests"
  exit 1
fi
exit "$rc"
