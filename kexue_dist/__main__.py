"""`python -m kexue_dist ...` = `kexue-dist ...` (for machines where the package is on PYTHONPATH, not installed)."""

import sys

from kexue_dist.cli import main

sys.exit(main())
