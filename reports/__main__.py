"""``python -m reports RUN_JSON SITE_DIR [--previous DIR] [--summary FILE]``: write results.json,
results.csv and index.html; with the previously published site, also the changes since it,
trend.json and changes.xml (Atom). With ``--check``, the run is a ``matrix check`` of the user's
own files: the same files, the check's page, and one summary line per file on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import cast

from matrix.store import bulk_records
from matrix.views import RunFile
from reports.catalog import CatalogError
from reports.check import summary_lines, write_check_site
from reports.history import summary_markdown, update_history
from reports.render import render_site
from reports.results import build_results, write_results
from runner.protocol import SCHEMA


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(prog="python -m reports")
    command.add_argument("run_file", type=Path, help="the run.json a matrix run wrote")
    command.add_argument("site", type=Path, help="where the report goes")
    command.add_argument("--previous", type=Path, help="the previously published site (results.json, trend.json)")
    command.add_argument("--summary", type=Path, help="append the changes, as Markdown, to this file")
    command.add_argument("--check", action="store_true", help="the run is a `matrix check` of your own files")
    return command


def main(argv: list[str]) -> int:
    try:
        with bulk_records():
            return report(parser().parse_args(argv))
    except CatalogError as exc:
        print(f"reports: error: {exc}", file=sys.stderr)
        return 2


def report(args: argparse.Namespace) -> int:
    try:
        run = cast(RunFile, json.loads(args.run_file.read_text()))
    except (OSError, ValueError) as exc:
        print(f"reports: error: cannot read {args.run_file} ({exc}); run `nox -s matrix` first", file=sys.stderr)
        return 2
    if not isinstance(run, dict) or run.get("schema") != SCHEMA or "families" not in run:
        print(f"reports: error: {args.run_file} is not a run file of this version (schema {SCHEMA}, with families): "
              "write it again with `nox -s matrix` (or `--phase report`)", file=sys.stderr)
        return 2
    if args.check:
        results, page = write_check_site(run, args.site)
        print("\n".join(summary_lines(results)))
        print(f"reports: {page}, {args.site / 'results.json'}, {args.site / 'results.csv'}")
        unread = [entry["name"] for entry in results["files"] if entry["problem"]]
        if unread:
            print(f"reports: {len(unread)} of {len(results['files'])} files could not be checked: "
                  f"{', '.join(unread)} (why: above)", file=sys.stderr)
        return 1 if unread else 0
    results, frame = build_results(run)
    write_results(results, frame, args.site)
    history = update_history(args.previous, results, args.site) if args.previous else None
    if history and args.summary:
        with open(args.summary, "a") as summary:
            summary.write(summary_markdown(history))
    page = render_site(results, frame, args.site, history)
    print(f"reports: {len(results['cells'])} cells -> {page}, {args.site / 'results.json'}, "
          f"{args.site / 'results.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
