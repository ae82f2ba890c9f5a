#!/usr/bin/env bash
# check.sh [PYTEST ARGS...] - the full check: system deps, venv, lint, types, tests.
# Idempotent; safe as root on a fresh Debian 12 with Python 3.11. Stops at the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[check] %s\n' "$*" >&2; }

# 1. Debian's docker-registry (distribution 2.8): the tests start their own instances.
if [[ ! -x /usr/bin/docker-registry ]]; then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
      log "docker-registry missing and not root (no sudo): registry tests will skip, or fail with CI=true"
    fi
  fi
  if [[ $(id -u) -eq 0 || ${#SUDO[@]} -gt 0 ]]; then
    log "installing docker-registry"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry
    # the package starts a service on :5000; we never use it
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      "${SUDO[@]}" systemctl disable --now docker-registry >/dev/null 2>&1 || true
    elif command -v service >/dev/null 2>&1; then
      "${SUDO[@]}" service docker-registry stop >/dev/null 2>&1 || true
    fi
  fi
fi

# 1b. Debian's chromium: the audit HTML report's headless screenshot test (skips without it,
# fails with CI=true).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
      log "chromium missing and not root (no sudo): the screenshot test will skip, or fail with CI=true"
    fi
  fi
  if [[ $(id -u) -eq 0 || ${#SUDO[@]} -gt 0 ]]; then
    log "installing chromium"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
fi

# 2. the reference clients the tests compare against (buildx, cosign, oras), into .tools/
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  if ! bash scripts/reference-tools.sh >/dev/null; then
    [[ ${CI:-} == true ]] && { log "cannot fetch the reference tools"; exit 1; }
    log "reference tools unavailable: their comparison tests will skip"
  fi
fi

# 3. virtualenv with the project and its test/lint extras
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  python3 -m venv .venv
fi
log "pip install -e .[test,lint,sigstore]"
.venv/bin/pip install -q -e '.[test,lint,sigstore]'

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
