#!/usr/bin/env bash
# The README's test command: set up, then the whole suite under an outer timeout (some Ray failures
# hang instead of failing). Extra arguments go to pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RAY_USAGE_STATS_ENABLED=0 WANDB_MODE=offline
timeout --signal=INT --kill-after=60 "${KX_TEST_TIMEOUT:-1500}" .venv/bin/python -m pytest -p no:cacheprovider --durations=15 "$@"
