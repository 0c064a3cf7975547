"""``python -m reports RUN_JSON SITE_DIR``: write results.json, results.csv and index.html."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from reports.render import render_site
from reports.results import build_results, write_results


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m reports RUN_JSON SITE_DIR", file=sys.stderr)
        return 2
    run_file, site = Path(argv[0]), Path(argv[1])
    try:
        run = json.loads(run_file.read_text())
    except (OSError, ValueError) as exc:
        print(f"reports: error: cannot read {run_file} ({exc}); run `nox -s matrix` first", file=sys.stderr)
        return 2
    results = build_results(run)
    frame = write_results(results, site)
    page = render_site(results, frame, site)
    print(f"reports: {len(results['cells'])} cells -> {page}, {site / 'results.json'}, {site / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
