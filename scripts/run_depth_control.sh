#!/usr/bin/env bash
# Depth-matched control for the supplement's ablation on the synthetic world (docs/training.md): the
# "BASIC" row's backbone (efficientnet_lite0: all 16 blocks, stride 32) at stride 8 with nothing else
# changed (efficientnet_lite0_full_dilated), trained as "+ RESOLUTION", "+ L2 POOL" (LSTM+Grad-CAM)
# and "+ ANTICIPATION" (ours), and evaluated with the protocol's BASIC model. Needs the worlds and the
# basic models of scripts/run_protocol.sh in OUT_DIR.
# Usage: bash scripts/run_depth_control.sh [OUT_DIR] [SPLIT...]   (default runs/protocol seen novel)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-runs/protocol}"
shift || true
[ "$#" -gt 0 ] && SPLITS=("$@") || SPLITS=(seen novel)
PY="${PYTHON:-.venv/bin/python}"
THREADS="${THREADS:-1}"
BACKBONE=efficientnet_lite0_full_dilated
start=$(date +%s)
for split in "${SPLITS[@]}"; do
  world="$OUT/world_$split"
  [ -f "$OUT/$split/basic/model.safetensors" ] || { echo "run scripts/run_protocol.sh $OUT first" >&2; exit 2; }
  for run in resolution lstm_gradcam ours; do
    "$PY" -m training.train --config "training/configs/synthetic_$run.yaml" --data-root "$world" \
      --backbone "$BACKBONE" --out-dir "$OUT/$split/full_$run" --cache-features "$OUT/cache_${split}_full" \
      --threads "$THREADS" --no-progress
  done
  OMP_NUM_THREADS="$THREADS" "$PY" -m training.evaluate --data-name opra --data-root "$world" --device cpu \
    --method "basic=$OUT/$split/basic/model.safetensors" \
    --method "resolution=$OUT/$split/full_resolution/model.safetensors" \
    --method "lstm_gradcam=$OUT/$split/full_lstm_gradcam/model.safetensors" \
    --method "ours=$OUT/$split/full_ours/model.safetensors" \
    --json "$OUT/$split/results_full.json" | tee "$OUT/$split/results_full.txt"
done
args=()
for split in "${SPLITS[@]}"; do args+=("$split=$OUT/$split/results_full.json"); done
"$PY" -m training.report "${args[@]}" | tee "$OUT/table_full.md"
echo "depth control done in $(( $(date +%s) - start )) s"
