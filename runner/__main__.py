"""Command line of the worker: ``python -m runner save|load|verify JOBFILE``."""

import sys

from runner.worker import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
