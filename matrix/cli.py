"""Command line of the host: ``python -m matrix run|list [options]``."""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from matrix.baseimage import DEFAULT_SUITE, DEFAULT_TAG, MIRROR_VARIABLE, build_base_image
from matrix.bench import print_figures, run_bench
from matrix.check import CheckRequest, check_files
from matrix.compare import compare, read_cells
from matrix.compare import lines as comparison_lines
from matrix.containers import DockerOptions
from matrix.errors import MatrixError, SelectionError
from matrix.launch import Limits
from matrix.phases import WorkerOptions, log
from matrix.plan import digest_runner
from matrix.profile import as_json, lines, profile
from matrix.run import PHASES, Part, RunOptions, run_matrix
from matrix.stacks import BACKENDS, DECLARATION, FAMILY_NAMES, Stack, family_named, load_stacks, select_stacks
from matrix.store import Workspace
from matrix.verify import VerifyRequest
from matrix.versions import missing_stacks
from runner.protocol import FORMATS

# A load job's cells at most: 12 minutes here at the heaviest column's cost (116 ms a load,
# TF 2.15, full default run with six formats), so a nightly load job stays under 20 minutes with
# its setup. Today's columns (4,200 cells, 3,213 of them measured) are one job each.
CELLS_PER_LOAD_JOB = 6000


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m matrix", description="Keras compatibility matrix")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="save and cross-load the reference models, then render the report")
    add_work_options(run, "environments, artifacts, records", "the report")
    add_case_selection(run)
    run.add_argument("--force", action="store_true", help="recompute every cell, fresh or not")
    add_worker_options(run)
    run.add_argument("--no-report", action="store_true", help="stop after writing WORKSPACE/run.json")
    run.add_argument("--phase", choices=PHASES, default="all",
                     help="one step of a sharded run: save, load, or report (assemble and render only)")
    run.add_argument("--shard", metavar="STACK", help="only this stack's saves, or its loads as the consumer")
    run.add_argument("--part", type=parse_part, metavar="K/N",
                     help="with --shard and --phase load: only part K of N of its column (every Nth producer "
                          "from the Kth), for columns too long for one job")
    add_verify_options(run)
    add_backend_options(run)
    check = commands.add_parser("check", help="your own model files through every selected stack")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                       help="model files (.h5/.hdf5, .keras) or SavedModel directories; the format is read "
                            "from the content")
    check.add_argument("--custom-objects", nargs="+", default=[], metavar="SPEC",
                       help="package.module (its public classes and functions) or package.module:Name,Other")
    check.add_argument("--import-path", nargs="+", type=Path, default=[], metavar="DIR",
                       help="where the custom objects' modules are, besides the current folder")
    check.add_argument("--input", type=Path, metavar="FILE",
                       help="sample input, .npy (one input) or .npz (one array per input, in order); "
                            "default: a fixed input built from the model's input shape")
    check.add_argument("--expected", type=Path, metavar="FILE",
                       help="the outputs to expect for --input (.npy/.npz); default: what the first stack "
                            "where the documented load works predicts")
    check.add_argument("--build", metavar="SPEC",
                       help="package.module:function returning the model that weights-only files (save_weights "
                            "output, TensorFlow checkpoints) belong to, found like --custom-objects; full model "
                            "files also get a last rung that loads their weights into it")
    check.add_argument("--architecture", type=Path, metavar="FILE",
                       help="the model's to_json() file, for weights-only files: model_from_json, then load_weights")
    check.add_argument("--unsafe", action="store_true",
                       help="also try load_model(..., safe_mode=False), which runs code stored in the file: "
                            "only for files you trust")
    add_work_options(check, "environments and check records", "check/index.html and check/results.json")
    add_worker_options(check)
    add_backend_options(check)
    bench = commands.add_parser("bench", help="measure this runner against a naive one; write SITE/bench.json "
                                              "and the report of the matrix it computed to SITE/bench-run/")
    add_work_options(bench, "whose environments to use, built if missing", "bench.json")
    add_case_selection(bench)
    bench.add_argument("--full", action="store_true", help="the whole default set (default: the quick set)")
    bench.add_argument("--naive-sample", type=int, default=3, metavar="N",
                       help="cells per stack and phase timed in the naive runner (default 3)")
    bench.add_argument("--profile", action="store_true",
                       help="instead, where the time of the workspace's last run went, from its records and its "
                            "workers' timings (default stacks: the default set); writes SITE/profile.json")
    comparing = commands.add_parser("compare", help="two runs' results.json cell by cell; exit 1 when any answer "
                                                    "differs")
    comparing.add_argument("before", type=Path, help="the first run's results.json")
    comparing.add_argument("after", type=Path, help="the second run's results.json")
    listing = commands.add_parser("list", help="print the selected stacks")
    add_selection(listing)
    listing.add_argument("--json", action="store_true", help="as JSON, the matrix a CI workflow shards by")
    listing.add_argument("--load-jobs", action="store_true",
                         help=f"as JSON, the load jobs: a stack's column split in parts of at most "
                              f"{CELLS_PER_LOAD_JOB:,} cells")
    versions = commands.add_parser("versions", help="print the stacks PyPI has and the declaration misses")
    versions.add_argument("--stacks-file", type=Path, default=DECLARATION,
                          help="the stacks declaration (default matrix/stacks.toml)")
    base = commands.add_parser("base-image", help="make the Debian base image of stack images with debootstrap, "
                                                  "where no registry is reachable (root)")
    base.add_argument("--mirror", metavar="URL",
                      help=f"the Debian mirror (default: ${MIRROR_VARIABLE}, or the one apt's sources files name)")
    base.add_argument("--suite", default=DEFAULT_SUITE, help=f"the Debian release (default {DEFAULT_SUITE})")
    base.add_argument("--tag", default=DEFAULT_TAG, help=f"the image's name (default {DEFAULT_TAG})")
    return top


def add_work_options(command: argparse.ArgumentParser, workspace: str, site: str) -> None:
    add_selection(command)
    command.add_argument("--workspace", type=Path, default=Path(".matrix"), help=f"{workspace} (default .matrix)")
    command.add_argument("--site", type=Path, default=Path("site"), help=f"where {site} goes (default site)")
    command.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers at once (default: cores)")


def add_case_selection(command: argparse.ArgumentParser) -> None:
    command.add_argument("--cases", nargs="+", default=[], metavar="PATTERN",
                         help="fnmatch patterns on case ids (default: every case in runner/cases)")
    command.add_argument("--every-stack", action="store_true",
                         help="measure every case on every selected stack, also the cases that declare fewer "
                              "(MEASURED_ON: too slow for the full cross product)")


def add_worker_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--cell-timeout", type=float, default=Limits.cell_timeout_s, help="seconds one cell may take")
    command.add_argument("--memory-limit", type=int, default=Limits.memory_mb, metavar="MB",
                         help=f"resident memory one worker may use before it is killed (default {Limits.memory_mb})")


def add_verify_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--verify-fresh", type=int, default=0, metavar="N",
                         help="self-check after the loads: run N attempts (ok or failing) not verified yet, each alone "
                              "in a fresh worker running TensorFlow as it ships, and report any that answer "
                              "otherwise (exit 3)")
    command.add_argument("--verify-signature", nargs="+", default=[], metavar="ID_OR_REGEX",
                         help="also verify every attempt that failed with this signature (a catalog id, or a regular "
                              "expression on 'Type: message')")
    command.add_argument("--verify-seed", type=int, metavar="SEED", help="repeat an earlier self-check's draw")


def add_backend_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--backend", choices=BACKENDS, help="run every stack in a venv or a Docker container "
                                                             "(default: each stack's own, venv unless declared)")
    command.add_argument("--docker-base", metavar="IMAGE", help="base image of stack images (default python:X.Y-slim)")
    command.add_argument("--docker-ca", type=Path, metavar="DIR",
                         help="extra CA certificates (*.crt) to trust while building images behind a TLS proxy")


def add_selection(command: argparse.ArgumentParser) -> None:
    command.add_argument("--stacks", nargs="+", default=[], metavar="PATTERN",
                         help="fnmatch patterns on stack ids (default: the default set)")
    command.add_argument("--tags", nargs="+", default=[], metavar="TAG",
                         help=f"only stacks with any of these tags: a family ({', '.join(FAMILY_NAMES)}), a Keras "
                              "backend (tensorflow, jax, torch) or another tag (quick, eras)")
    command.add_argument("--all", action="store_true", help="every declared stack, the ones not in the default set too")
    command.add_argument("--stacks-file", type=Path, default=DECLARATION,
                         help="the stacks declaration (default matrix/stacks.toml)")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        commands = {"run": run_command, "check": check_command, "list": list_command, "versions": versions_command,
                    "bench": bench_command, "base-image": base_image_command, "compare": compare_command}
        return commands[args.command](args)
    except MatrixError as exc:
        print(f"matrix: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        print(f"matrix: error: the disk is full (writing {exc.filename}): free some space and run again; "
              "every record written so far is kept and will not be computed again", file=sys.stderr)
        return 2


def compare_command(args: argparse.Namespace) -> int:
    result = compare(read_cells(args.before), read_cells(args.after))
    print("\n".join(comparison_lines(result)))
    return 0 if result.same else 1


def list_command(args: argparse.Namespace) -> int:
    stacks, _ = select_stacks(load_stacks(args.stacks_file), args.stacks, args.tags, args.all)
    if args.load_jobs:
        print(json.dumps(load_jobs(stacks, len(digest_runner().cases))))
        return 0
    if args.json:
        print(json.dumps(stack_plan(stacks)))
        return 0
    for stack in stacks:
        env = " ".join(f"{k}={v}" for k, v in stack.env.items())
        print(f"{stack.id:28} {stack.family:17} {stack.keras_backend:10} python {stack.python:5} "
              f"{' '.join(stack.requirements)} {env}".rstrip())
    return 0


def stack_plan(stacks: list[Stack]) -> list[dict[str, str | bool]]:
    """The stacks as a CI matrix: id, Python, and a key that changes whenever its save records
    would (its pins, the runner's code), unique per run for unpinned nightly stacks."""
    code = digest_runner()
    code_key = hashlib.sha256(json.dumps([code.core, code.cases], sort_keys=True).encode()).hexdigest()[:16]
    return [{"id": s.id, "python": s.python, "cache_key": f"{s.fingerprint()}-{code_key}",
             "pinned": family_named(s.family).pinned} for s in stacks]


def load_jobs(stacks: list[Stack], cases: int) -> list[dict[str, str]]:
    """The nightly's load jobs: each stack's column (every stack's artifacts) in as few parts as
    keep a job within CELLS_PER_LOAD_JOB cells; ``name`` is unique, for caches and uploads."""
    column = len(stacks) * cases * len(FORMATS)
    count = max(1, math.ceil(column / CELLS_PER_LOAD_JOB))
    return [{"id": s.id, "python": s.python, "part": str(Part(n, count)),
             "name": s.id if count == 1 else f"{s.id}-part{n}of{count}"}
            for s in stacks for n in range(1, count + 1)]


def parse_part(text: str) -> Part:
    number, _, count = text.partition("/")
    try:
        part = Part(int(number), int(count))
    except ValueError:
        part = Part(0, 0)
    if not 1 <= part.number <= part.count:
        raise argparse.ArgumentTypeError(f"{text!r}: give K/N with 1 <= K <= N, e.g. 2/3")
    return part


def versions_command(args: argparse.Namespace) -> int:
    blocks = missing_stacks(load_stacks(args.stacks_file))
    if not blocks:
        print(f"{args.stacks_file} pins the latest patch of every TensorFlow, Keras 3 and tf-keras minor on PyPI")
        return 0
    print(f"# {len(blocks)} stack(s) PyPI has that {args.stacks_file} misses; paste, then check each installs:\n")
    print("\n\n".join(blocks))
    return 0


def base_image_command(args: argparse.Namespace) -> int:
    mirror = build_base_image(args.tag, args.suite, args.mirror)
    print(f"matrix: {args.tag}: Debian {args.suite} from {mirror}")
    return 0


def bench_command(args: argparse.Namespace) -> int:
    if args.profile:
        return profile_command(args)
    chosen = args.stacks or args.tags or args.all or args.full
    stacks, _ = select_stacks(load_stacks(args.stacks_file), args.stacks, args.tags if chosen else ["quick"], args.all)
    workspace = Workspace(args.workspace.resolve())
    options = RunOptions(workspace=workspace, jobs=args.jobs, cases=tuple(args.cases), every_stack=args.every_stack)
    with workspace.locked():
        print_figures(run_bench(stacks, options, args.site.resolve(), args.naive_sample))
    return 0


def profile_command(args: argparse.Namespace) -> int:
    stacks, _ = select_stacks(load_stacks(args.stacks_file), args.stacks, args.tags, args.all)
    workspace = Workspace(args.workspace.resolve())
    columns = profile(stacks, workspace)
    if not any(c.cells for cols in columns.values() for c in cols):
        raise SelectionError(f"{workspace.root} holds no records of the selected stacks: run `nox -s matrix` first")
    run = workspace.read(str(workspace.run_file.relative_to(workspace.root))) or {}
    if run.get("workers"):
        workers = run["workers"]
        print(f"the last run: {run.get('seconds')} s wall; {workers['processes']} worker processes lived "
              f"{workers['seconds']} s in all, {workers['jobs']} at a time")
    print("\n".join(lines(columns)))
    args.site.mkdir(parents=True, exist_ok=True)
    (args.site / "profile.json").write_text(json.dumps(as_json(columns), indent=1))
    return 0


def run_command(args: argparse.Namespace) -> int:
    stacks, unmatched = select_stacks(load_stacks(args.stacks_file), args.stacks, args.tags, args.all)
    for pattern in unmatched:
        log(f"warning: no stack matches {pattern!r}; `python -m matrix list` shows the known ones")
    workspace = Workspace(args.workspace.resolve())
    if args.part and not (args.shard and args.phase == "load"):
        raise SelectionError(f"--part {args.part} splits one consumer's loads: give it with --shard STACK --phase load")
    if args.shard and args.shard not in {s.id for s in stacks}:
        raise SelectionError(f"--shard {args.shard!r} is not among the selected stacks: "
                             f"{', '.join(s.id for s in stacks)}")
    limits = Limits(cell_timeout_s=args.cell_timeout, memory_mb=args.memory_limit)
    if args.verify_fresh < 0:
        raise SelectionError(f"--verify-fresh {args.verify_fresh}: give how many attempts to verify (0 or more)")
    options = RunOptions(workspace=workspace, jobs=args.jobs, limits=limits, backend=args.backend,
                         docker=DockerOptions(args.docker_base, args.docker_ca), force=args.force,
                         cases=tuple(args.cases), every_stack=args.every_stack, phase=args.phase, shard=args.shard,
                         part=args.part,
                         verify=VerifyRequest(args.verify_fresh, tuple(args.verify_signature), args.verify_seed))
    with workspace.locked():
        return run_and_report(stacks, options, args.site.resolve(), args.no_report or args.phase in ("save", "load"))


def run_and_report(stacks: list[Stack], options: RunOptions, site: Path, no_report: bool) -> int:
    summary = run_matrix(stacks, options)
    log(f"done in {summary.seconds:.1f} s: {summary.ready}/{summary.stacks} stacks ready, "
        f"{summary.saves_run} saves and {summary.loads_run} loads computed, {summary.cells} cells")
    if summary.ready < summary.stacks:
        log(f"warning: {summary.stacks - summary.ready} stack(s) did not run; the report shows why")
    checked = summary.verification
    if checked["attempts"]:
        log(f"self-check: {checked['attempts']} attempts verified alone in a fresh worker: {checked['agreed']} "
            f"agree, {checked['disagreed']} disagree, {checked['unverified']} could not run (their worker died)")
    if not no_report:
        report = [sys.executable, "-m", "reports", str(options.workspace.run_file), str(site)]
        code = subprocess.run(report, cwd=Path(__file__).resolve().parent.parent).returncode
        if code:
            return code
    if checked["disagreed"]:
        log(f"error: {checked['disagreed']} attempts answered otherwise alone in a fresh worker than in the run: "
            "state leaks between attempts in the worker, a bug of this tool, not Keras's answer; the report's "
            "self-check section lists them")
        return 3
    return 0 if summary.ready else 1


def check_command(args: argparse.Namespace) -> int:
    stacks, unmatched = select_stacks(load_stacks(args.stacks_file), args.stacks, args.tags, args.all)
    for pattern in unmatched:
        log(f"warning: no stack matches {pattern!r}; `python -m matrix list` shows the known ones")
    workspace = Workspace(args.workspace.resolve())
    limits = Limits(cell_timeout_s=args.cell_timeout, memory_mb=args.memory_limit)
    options = WorkerOptions(workspace=workspace, jobs=args.jobs, limits=limits, backend=args.backend,
                            docker=DockerOptions(args.docker_base, args.docker_ca))
    request = CheckRequest(tuple(args.paths), tuple(args.custom_objects), tuple(args.import_path), args.input,
                           args.expected, args.unsafe, args.build, args.architecture)
    with workspace.locked():
        run_file = check_files(stacks, request, options)
    report = [sys.executable, "-m", "reports", "--check", str(run_file), str(args.site.resolve() / "check")]
    return subprocess.run(report, cwd=Path(__file__).resolve().parent.parent).returncode
