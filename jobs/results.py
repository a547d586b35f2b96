"""Train and measure one issue's results table on a Ray cluster: the job form of `kexue-dist results`.

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \
        python jobs/results.py bn-vae --budget gpu --out results/gpu
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kexue_dist.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["results", *sys.argv[1:]]))
