#!/usr/bin/env bash
# GPU run of the GAN loss-family sweep (issue 4): all 16 families x 1 seed on the full-width DCGAN
# (configs/sweep_gan_loss_full.yaml: width 64, 3,000 steps of batch 128, 5,120 samples per evaluation),
# 16 trials at once on ONE GPU (1/16 of it and 0.5 + 0.25 logical CPUs each), ASHA on the validation FD.
# Expected: about 5 minutes on one H100 with 16 CPUs (untested there; see the "GAN loss families" section of README.md).
#
#   KEXUE_DIST_CACHE=/path/to/cache benchmarks/gpu_gan.sh OUT_DIR [--families a,b] [--seeds N] [--set ...]
#
# Writes OUT_DIR/gan_ranking.json, OUT_DIR/gan_grids/<family>.png, OUT_DIR/gan_loss_sweep.json (per trial),
# OUT_DIR/sweep.log and OUT_DIR/gpu.txt (device, wall time). KEXUE_DIST_CACHE must hold the built
# Fashion-MNIST (images/fashion_mnist-*); the evaluation classifier is the committed one.
set -uo pipefail
out=${1:?usage: benchmarks/gpu_gan.sh OUT_DIR [extra kexue-dist sweep arguments]}; shift
cd "$(dirname "$0")/.."
mkdir -p "$out"
export WANDB_MODE=${WANDB_MODE:-disabled}  # the GPU image has no wandb; offline works where it is installed
: "${KEXUE_DIST_CACHE:?set KEXUE_DIST_CACHE to the data cache holding the built Fashion-MNIST}"
export KEXUE_DIST_CACHE
python3 - <<'PY' || exit 3
import importlib.util, sys
need = ["ray", "deepspeed", "PIL", "matplotlib", "yaml", "pyarrow", "numpy", "torch"]
missing = [m for m in need if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"missing Python packages: {', '.join(missing)} (carry their wheels; PIL = pillow)")
PY
# the validation reference features (once, here, rather than in 16 trials at the same time)
python3 -c "from kexue_dist.data.images import fashion_mnist_dataset as d; from kexue_dist.gan.metrics import reference_stats as r; print(r(d()))" || exit 4
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader -l 5 > "$out/gpu_util.csv" 2>/dev/null &
smi=$!
start=$(date +%s)
python3 -m kexue_dist.cli sweep gan-loss --budget full --seeds 1 --out "$out" "$@" > "$out/sweep.log" 2>&1
rc=$?
kill "$smi" 2>/dev/null
echo "rc $rc, seconds $(( $(date +%s) - start ))" | tee -a "$out/gpu.txt"
grep -E "^\|" "$out/sweep.log" | tail -40
tail -5 "$out/sweep.log"
exit $rc
