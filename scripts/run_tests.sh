#!/usr/bin/env bash
# Run the test suite from .venv. ROS tests need a private network: the whole run goes inside
# `unshare -n` with only loopback up when the kernel allows it, with localhost-only discovery, a
# per-run ROS_DOMAIN_ID and a throw-away ROS_LOG_DIR either way. Extra arguments go to pytest.
# First the formatter and linter (ruff.toml) check the whole tree; HOTSPOT_SKIP_LINT=1 skips them
# (for a quick local run of a few tests).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HOTSPOT_VENV:-$REPO/.venv}"
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
export ROS_LOG_DIR="$(mktemp -d /tmp/hotspots-roslog.XXXXXX)"
trap 'rm -rf "$ROS_LOG_DIR"' EXIT
cd "$REPO"
if [[ "${HOTSPOT_SKIP_LINT:-0}" != "1" ]]; then
  echo "[tests] ruff format --check and ruff check (ruff.toml)"
  "$VENV/bin/ruff" format --check --quiet . || { echo "[tests] not formatted: run .venv/bin/ruff format ." >&2; exit 1; }
  "$VENV/bin/ruff" check --quiet . || { echo "[tests] lint errors above: .venv/bin/ruff check --fix . fixes most" >&2; exit 1; }
fi
# One worker per core, up to 4 (HOTSPOT_TEST_WORKERS overrides; 0: no workers): each test module runs whole
# on one worker (module fixtures built once), and each worker has its own ROS_DOMAIN_ID (tests/conftest.py).
WORKERS="${HOTSPOT_TEST_WORKERS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}"
PARALLEL=()
if [[ "$WORKERS" -gt 1 ]]; then PARALLEL=(-n "$WORKERS" --dist loadfile); fi
PYTEST=("$VENV/bin/python" -m pytest -q -p no:cacheprovider "${PARALLEL[@]}" "$@")
if unshare -n true 2>/dev/null; then
  echo "[tests] private network namespace (loopback only), ROS_DOMAIN_ID=$ROS_DOMAIN_ID"
  unshare -n bash -c 'ip link set lo up 2>/dev/null || true; exec "$@"' _ "${PYTEST[@]}"
else
  echo "[tests] unshare -n not permitted here: running with localhost-only discovery, ROS_DOMAIN_ID=$ROS_DOMAIN_ID"
  "${PYTEST[@]}"
fi
