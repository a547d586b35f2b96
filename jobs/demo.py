"""Every workload once, end to end, with a Markdown report: the job form of `kexue-dist demo`.

    ray job submit --address http://127.0.0.1:8265 --working-dir . -- python jobs/demo.py --out /shared/demo
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kexue_dist.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
