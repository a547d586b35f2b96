"""The GAN loss-family sweep as a Ray job: the job form of `kexue-dist sweep gan-loss`.

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- \
        python jobs/sweep_gan_loss.py --families gan,hinge,wgan-gp --seeds 3 --budget full --out results

Under `ray job submit` RAY_ADDRESS is set, so Tune attaches to that cluster instead of starting a local Ray.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kexue_dist.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["sweep", "gan-loss", *sys.argv[1:]]))
