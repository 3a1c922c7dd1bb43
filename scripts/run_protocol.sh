#!/usr/bin/env bash
# The full synthetic-world protocol on CPU (docs/training.md): for the seen split and the novel-object
# split, generate the world, train ours / LSTM+Grad-CAM / DIRECT CLS / "+resolution" on one shared
# feature cache and "basic" (stride-32 backbone) on its own, and evaluate them with center bias. Usage: bash scripts/run_protocol.sh [OUT_DIR]   (default runs/protocol)
# THREADS (default 1) sets torch's CPU threads per process: 1 keeps runs bit-reproducible across
# machines' core counts and avoids OpenMP thrashing when the machine is shared.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-runs/protocol}"
PY="${PYTHON:-.venv/bin/python}"
THREADS="${THREADS:-1}"
mkdir -p "$OUT"
start=$(date +%s)
for split in seen novel; do
  world="$OUT/world_$split"
  "$PY" -m training.synthetic --out "$world" --seed 0 --split "$split" \
    --products-per-category 4 --clips-per-category 16 --test-per-category 4 --overwrite
  for run in ours lstm_gradcam direct_cls resolution basic; do
    cache="$OUT/cache_$split"
    [ "$run" = basic ] && cache="$OUT/cache_${split}_basic"  # another backbone: its own cache
    "$PY" -m training.train --config "training/configs/synthetic_$run.yaml" --data-root "$world" \
      --out-dir "$OUT/$split/$run" --cache-features "$cache" --threads "$THREADS" --no-progress
  done
  OMP_NUM_THREADS="$THREADS" "$PY" -m training.evaluate --data-name opra --data-root "$world" --device cpu \
    --method center_bias --method "basic=$OUT/$split/basic/model.safetensors" \
    --method "resolution=$OUT/$split/resolution/model.safetensors" \
    --method "lstm_gradcam=$OUT/$split/lstm_gradcam/model.safetensors" \
    --method "direct_cls=$OUT/$split/direct_cls/model.safetensors" \
    --method "ours=$OUT/$split/ours/model.safetensors" \
    --method "mean_map=$OUT/$split/ours/model.safetensors" --method "ours_cam=$OUT/$split/ours/model.safetensors" \
    --method oracle --json "$OUT/$split/results.json" | tee "$OUT/$split/results.txt"
done
"$PY" -m training.report "seen=$OUT/seen/results.json" "novel=$OUT/novel/results.json" | tee "$OUT/table.md"
echo "protocol done in $(( $(date +%s) - start )) s"
