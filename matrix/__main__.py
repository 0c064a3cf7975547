"""``python -m matrix``: see matrix.cli."""

import sys

from matrix.cli import main

sys.exit(main())
