#!/usr/bin/env bash
# The README's first command: set up, then run every workload end to end on an embedded local Ray
# with W&B offline (online if WANDB_API_KEY is set). Extra arguments go to `kexue-dist demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kexue-dist demo "$@"
