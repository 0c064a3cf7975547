"""The planner's arithmetic: what a run computes, given what the store already holds."""

from pathlib import Path

import pytest

from matrix.errors import SelectionError
from matrix.plan import (
    CodeDigest,
    describe_cases,
    digest_runner,
    plan_loads,
    plan_saves,
    save_fingerprint,
    select_cases,
)
from matrix.stacks import Stack
from matrix.store import Workspace
from runner.protocol import FORMAT_NAMES as FORMATS

WS = Workspace(Path("/nowhere"))
CODE = CodeDigest(core="core1", cases={"custom_layer": "a", "custom_loss": "b", "module_layer": "c"})
ARTIFACTS = len(CODE.cases) * len(FORMATS)  # one stack saves
PER_CASE = len(FORMATS)


def stack(n: int, pin: str = "1") -> Stack:
    return Stack(id=f"s{n}", python="3.11", requirements=(f"tensorflow-cpu==2.{n}.{pin}",), family="keras2")


class FakeStore:
    """Records by relative path, as the workspace would hold them after a run."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}

    def fingerprint_at(self, path: str) -> str | None:
        return self.records.get(path, {}).get("fingerprint")

    def read(self, path: str) -> dict | None:
        return self.records.get(path)

    def run(self, stacks: list[Stack], code: CodeDigest = CODE) -> tuple[int, int]:
        """Plan, then 'run' everything planned; return (saves, loads) computed."""
        saves = plan_saves(stacks, code, WS, self.fingerprint_at)
        for cell in saves:
            self.records[WS.save_record(cell.producer, cell.case, cell.format)] = {
                "fingerprint": cell.fingerprint, "status": "saved", "case": cell.case,
                "sha256": f"sha-{cell.fingerprint}", "reference_sha256": "ref"}
        loads = plan_loads(stacks, stacks, code, WS, self.fingerprint_at, self.read)
        for cell in loads:
            self.records[WS.load_record(cell.producer, cell.consumer, cell.case, cell.format)] = {
                "fingerprint": cell.fingerprint}
        return len(saves), len(loads)


def test_first_run_computes_every_cell_and_second_nothing() -> None:
    store, stacks = FakeStore(), [stack(1), stack(2), stack(3)]
    assert store.run(stacks) == (3 * ARTIFACTS, 3 * 3 * ARTIFACTS)
    assert store.run(stacks) == (0, 0)


def test_adding_a_stack_computes_only_its_row_and_column() -> None:
    store, stacks = FakeStore(), [stack(1), stack(2), stack(3)]
    store.run(stacks)
    # new row: 4 consumers load its artifacts; new column: it loads the 3 others' each.
    assert store.run([*stacks, stack(4)]) == (ARTIFACTS, (4 + 3) * ARTIFACTS)


def test_changing_a_stacks_pins_recomputes_its_row_and_column() -> None:
    store = FakeStore()
    store.run([stack(1), stack(2)])
    assert store.run([stack(1), stack(2, pin="2")]) == (ARTIFACTS, 3 * ARTIFACTS)


def test_editing_one_case_recomputes_only_that_case() -> None:
    store, stacks = FakeStore(), [stack(1), stack(2)]
    store.run(stacks)
    edited = CodeDigest(core="core1", cases={**CODE.cases, "custom_loss": "b2"})
    assert store.run(stacks, edited) == (2 * len(FORMATS), 2 * 2 * len(FORMATS))


def test_editing_runner_core_recomputes_everything() -> None:
    store, stacks = FakeStore(), [stack(1), stack(2)]
    store.run(stacks)
    assert store.run(stacks, CodeDigest(core="core2", cases=CODE.cases)) == (2 * ARTIFACTS, 2 * 2 * ARTIFACTS)


def test_failed_saves_plan_no_loads() -> None:
    store, stacks = FakeStore(), [stack(1)]
    for case in CODE.cases:
        for fmt in FORMATS:
            store.records[WS.save_record("s1", case, fmt)] = {
                "fingerprint": save_fingerprint(stacks[0], case, fmt, CODE), "status": "error"}
    assert store.run(stacks) == (0, 0)


def test_real_runner_digest_has_the_seed_cases() -> None:
    code = digest_runner()
    assert {"custom_layer", "custom_loss", "module_layer"} <= set(code.cases)
    assert len(code.core) == 64


def test_case_selection_keeps_only_matching_cases() -> None:
    chosen = select_cases(CODE, ["custom_*"])
    assert set(chosen.cases) == {"custom_layer", "custom_loss"} and chosen.core == CODE.core
    assert select_cases(CODE, []) is CODE
    with pytest.raises(SelectionError, match="no case matches 'nope'; known cases: custom_layer, custom_loss"):
        select_cases(CODE, ["nope"])


def test_a_case_built_on_another_changes_with_it(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "base.py").write_text("X = 1\n")
    (cases / "derived.py").write_text("from runner.cases import base\n")
    before = digest_runner(tmp_path)
    (cases / "base.py").write_text("X = 2\n")
    after = digest_runner(tmp_path)
    assert before.cases["derived"] != after.cases["derived"] and before.core == after.core


def test_every_case_says_whether_it_is_the_seeds_and_what_it_is() -> None:
    described = {c["id"]: c for c in describe_cases(digest_runner())}
    assert {case for case, c in described.items() if c["tags"] == ["seed"]} == {
        "custom_layer", "custom_loss", "module_layer"}
    assert all(c["tags"] in (["seed"], ["extra"], ["layers"]) and c["summary"] for c in described.values())
    assert {case for case, c in described.items() if c["measured_on"]} == {"text_rnn", "stock_mobilenet",
                                                                              "nested_models"}


def quick(n: int) -> Stack:
    return Stack(id=f"q{n}", python="3.11", requirements=(f"tensorflow-cpu==2.{n}.0",), family="keras2",
                 tags=("quick",))


def test_a_case_with_a_narrower_axis_is_measured_only_between_its_stacks() -> None:
    store, stacks = FakeStore(), [stack(1), quick(2), quick(3)]
    narrow = CodeDigest(core="core1", cases=CODE.cases, axes={"custom_loss": "quick"})
    # custom_loss: saved by the two quick stacks and loaded only by them; the others everywhere
    assert store.run(stacks, narrow) == (3 * 2 * PER_CASE + 2 * PER_CASE, 3 * 3 * 2 * PER_CASE + 2 * 2 * PER_CASE)
    # --every-stack: its row and column on the untagged stack too, nothing else again
    assert store.run(stacks, narrow.on_every_stack()) == (PER_CASE, (3 + 2) * PER_CASE)


def test_cells_outside_a_cases_axis_say_not_measured() -> None:
    from matrix.runfile import assemble_cells

    narrow = CodeDigest(core="core1", cases={"custom_loss": "b"}, axes={"custom_loss": "quick"})
    cells = assemble_cells([stack(1), quick(2)], narrow, WS, {})
    verdicts = {(c["producer"], c["consumer"]): c["verdict"] for c in cells if c["format"] == "h5"}
    assert verdicts == {("s1", "s1"): "not-measured", ("s1", "q2"): "not-measured",
                        ("q2", "s1"): "not-measured", ("q2", "q2"): "blocked"}  # no save record here
    assert all(c["error"] is None and c["attempts"] == [] for c in cells if c["verdict"] == "not-measured")


@pytest.mark.parametrize(("status", "verdict", "says"), [
    ("unsupported", "unsupported", "the producer cannot write this format: no API"),
    ("unavailable", "unavailable", "the producer cannot build this case: no API"),
    ("error", "blocked", "the producer could not save this: no API"),
    ("crashed", "blocked", "the producer could not save this: no API"),
])
def test_a_save_that_did_not_happen_makes_its_own_verdict(status: str, verdict: str, says: str) -> None:
    from matrix.runfile import cell_of

    saved = {"status": status, "reason": "no API"}
    cell = cell_of("s1", "s2", "custom_layer", "h5", saved, WS, {}, lambda relative: None)
    assert (cell["verdict"], cell["error"]["message"]) == (verdict, says)
    assert cell["error"]["type"] == f"Save{verdict.capitalize()}" and cell["attempts"] == []
