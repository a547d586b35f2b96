"""Run a Ray Tune sweep on a Ray cluster: the job form of `kexue-dist sweep`.

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \
        python jobs/sweep.py bn-scale --out results

Under `ray job submit` RAY_ADDRESS is set, so Tune attaches to that cluster; `--resume` continues an
interrupted sweep from its saved state in --out.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kexue_dist.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["sweep", *sys.argv[1:]]))
