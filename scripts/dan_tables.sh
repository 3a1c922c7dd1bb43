#!/usr/bin/env bash
# Dual Attention Network tables on the synthetic world (docs/dual_attention.md):
# world -> feature cache -> 6 models x SEEDS -> Tables 1 and 4 per seed, then mean +- std over seeds
# (runs/dan/tables.md; Table 4 at a 30% threshold too: runs/dan/tables_threshold_0.3.md).
# Trained checkpoints are kept: a second run only evaluates again.
#
#   bash scripts/dan_tables.sh [OUT_DIR]        (default runs/dan)
#
# Env: SEEDS (default "0 1 2"), JOBS (parallel trainings, default 2), EPOCHS (60), PY (.venv/bin/python).
# Every training run uses one CPU thread: on a shared 2-core machine that is several times faster
# than two contending threads.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
OUT="${1:-runs/dan}"
PY="${PY:-.venv/bin/python}"
SEEDS="${SEEDS:-0 1 2}"
JOBS="${JOBS:-2}"
EPOCHS="${EPOCHS:-60}"
WORLD="$OUT/world"
mkdir -p "$OUT"

if [[ ! -f "$WORLD/annotations.json" ]]; then
  "$PY" -m training.synthetic --out "$WORLD" --seed 0 --dan-labels --products-per-category 4 \
    --clips-per-category 20 --test-per-category 2 --test-clips-per-category 12 --image-size 128 \
    --min-frames 8 --max-frames 12 --dan-two-object-clips 8
fi

COMMON=(--world "$WORLD" --epochs "$EPOCHS" --lr 0.02 --batch-size 16 --frames 4 --temporal-head trn
        --embed-dim 256 --attention-dim 256 --feature-pool 2 --input-size 112 --threads 1)
# The feature cache is built once, by the first run (every run shares it).
declare -A VARIANT=(
  [base_action]="--variant baseline --tasks action" [base_object]="--variant baseline --tasks object"
  [multitask]="--variant multitask" [self]="--variant self" [dual]="--variant dual"
  [dual_gt]="--variant dual --prior gt")
first=1
jobs=()
for seed in $SEEDS; do
  for name in dual self multitask base_action base_object dual_gt; do
    ckpt="$OUT/s$seed/$name.safetensors"
    [[ -f "$ckpt" ]] && continue
    cmd="$PY -m training.dan.train ${COMMON[*]} ${VARIANT[$name]} --seed $seed --out $ckpt"
    if (( first )); then mkdir -p "$OUT/s$seed"; $cmd > "$OUT/s$seed/$name.log" 2>&1; first=0; continue; fi
    jobs+=("mkdir -p $OUT/s$seed && $cmd > $OUT/s$seed/$name.log 2>&1")
  done
done
if (( ${#jobs[@]} )); then
  printf '%s\0' "${jobs[@]}" | xargs -0 -P "$JOBS" -I{} bash -c '{}'
fi

# Tables 1 and 4 at the paper's 60% box threshold, and Table 4 again at 30% (box extent vs threshold).
evals=()
for seed in $SEEDS; do
  d="$OUT/s$seed"
  evals+=("$PY -m training.dan.evaluate --world $WORLD --threads 1 \
    --run 'baseline=$d/base_action.safetensors,$d/base_object.safetensors' --run 'multitask=$d/multitask.safetensors' \
    --run 'self attention=$d/self.safetensors' --run 'dual attention=$d/dual.safetensors' \
    --run 'dual attention, GT priors=$d/dual_gt.safetensors' --json $d/eval.json --markdown $d/eval.md > $d/eval.log 2>&1")
  evals+=("$PY -m training.dan.evaluate --world $WORLD --threads 1 --box-threshold 0.3 \
    --run 'self attention=$d/self.safetensors' --run 'dual attention=$d/dual.safetensors' \
    --json $d/eval_t03.json > $d/eval_t03.log 2>&1")
done
printf '%s\0' "${evals[@]}" | xargs -0 -P "$JOBS" -I{} bash -c '{}'
"$PY" -m training.dan.evaluate --summarise "$OUT"/s*/eval.json > "$OUT/tables.md"
"$PY" -m training.dan.evaluate --summarise "$OUT"/s*/eval_t03.json > "$OUT/tables_threshold_0.3.md"
cat "$OUT/tables.md" "$OUT/tables_threshold_0.3.md"
