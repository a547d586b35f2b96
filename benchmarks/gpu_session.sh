#!/usr/bin/env bash
# Every GPU check of this project in one command, for a lent single-GPU machine with no network
# (Python 3.12 + CUDA torch, no ray/deepspeed/wandb). Carried folder .gpucarry/ (see README, "GPU runs"):
#   site.tar.xz     ray + deepspeed + small deps, installed for Python 3.12 (built from pinned wheels)
#   cache.tar.xz    the text datasets (Parquet) the GPU presets use (no `bible` program there)
#   fashion.tar.xz  Fashion-MNIST's raw IDX files (the Parquet is built there)
# Steps, one after another, each under its own timeout (results under $OUT, one tarball per step):
#   1. benchmarks/engine_overhead.py --gpu
#   2. kexue-dist results bn-vae --budget gpu
#   3. kexue-dist sweep bn-scale-gpu
#   4. GAN loss sweep --budget full (benchmarks/gpu_gan.sh)
set -uo pipefail
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
LIMIT=${GPU_SESSION_LIMIT_S:-480}
t0=$(date +%s)
left() { echo $(( LIMIT - ($(date +%s) - t0) )); }
log() { echo "[gpu_session +$(( $(date +%s) - t0 ))s] $*"; }

tar -xJf .gpucarry/site.tar.xz -C /tmp && export PYTHONPATH=/tmp/gpusite:$PWD
mkdir -p /tmp/fashion && tar -xJf .gpucarry/fashion.tar.xz -C /tmp/fashion
tar -xJf .gpucarry/cache.tar.xz -C /tmp
export KEXUE_DIST_FASHION_DIR=/tmp/fashion KEXUE_DIST_CACHE=/tmp/gpucache WANDB_MODE=disabled \
       RAY_AUTH_MODE=disabled RAY_USAGE_STATS_ENABLED=0 PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=/tmp/torch_ext
# (no PATH change: the carried console scripts name this machine's Python; use python3 -m)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, ray, deepspeed; print('torch', torch.__version__, 'ray', ray.__version__, 'deepspeed', deepspeed.__version__)" 2>&1 | tail -1 | tee -a "$OUT/gpu.txt"
log "unpacked"

# 1. engine overhead, alone on the machine (a first try beside 12 CPU fits measured 1.27x instead of 1.20x)
timeout 180 python3 benchmarks/engine_overhead.py --gpu --out "$OUT/engine" > "$OUT/engine.log" 2>&1
log "engine_overhead rc=$?"; grep -A6 "median step ms" "$OUT/engine.log"

# 2-4 one after another on one Ray head (16 CPUs, 1 GPU). Run side by side, they starved each other of
# CPUs (Ray Data and the launch threads need them) and none finished in 8 minutes (2026-11-26).
python3 -m ray.scripts.scripts start --head --num-cpus=16 --num-gpus=1 --port=6390 --dashboard-host=127.0.0.1 \
  --dashboard-port=8299 --disable-usage-stats >> "$OUT/gpu.txt" 2>&1
log "ray start rc=$?"
export RAY_ADDRESS=127.0.0.1:6390
# 2. the GPU preset, 4 fits sharing the GPU (each 2 CPUs)
timeout $(( $(left) * 5 / 10 )) python3 -m kexue_dist results bn-vae --budget gpu --out "$OUT/bnvae_gpu" --parallel 4 \
  --set scaling.gpus_per_worker=0.25 --set tracking.wandb=disabled > "$OUT/bnvae_gpu.log" 2>&1
log "bn-vae gpu rc=$?"
# 3. the bn-scale sweep (ASHA), trials sharing the GPU
timeout $(( $(left) * 6 / 10 )) python3 -m kexue_dist sweep bn-scale-gpu --out "$OUT/sweep" > "$OUT/sweep.log" 2>&1
log "bn-scale sweep rc=$?"
# 4. the GAN loss sweep, full budget
[ -f benchmarks/gpu_gan.sh ] && { timeout $(( $(left) - 30 )) bash benchmarks/gpu_gan.sh "$OUT/gan" > "$OUT/gan.log" 2>&1; log "gan rc=$?"; }
python3 -m ray.scripts.scripts stop --force > /dev/null 2>&1

# at most 8 files come back: one tarball per step (JSON, PNG, logs; no checkpoints)
for step in engine bnvae_gpu sweep gan; do
  [ -d "$OUT/$step" ] || continue
  tar -czf "$OUT/$step.tgz" -C "$OUT" --exclude='runs' --exclude='tune' --exclude='*.pt' --exclude='checkpoint_*' "$step" "$step.log" 2>/dev/null
  grep -E "^\|" "$OUT/$step.log" | tail -16
  rm -rf "$OUT/$step" "$OUT/$step.log"
done
log "done"
ls -la "$OUT"
