"""Train any model on a Ray cluster: the job form of `kexue-dist train`.

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \
        python jobs/train.py vae --config vae_gpu --workers 8 --gpu

Under `ray job submit` RAY_ADDRESS is set, so the trainer attaches to that cluster instead of
starting a local Ray.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kexue_dist.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
