"""The benchmark's "add one stack": what it removes is exactly that stack's row and column."""

from pathlib import Path

from matrix.bench import forget_stack
from matrix.store import Workspace

STACKS = ("old", "new", "other")


def test_forgetting_a_stack_removes_exactly_its_row_and_column(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    for producer in STACKS:
        workspace.write(workspace.save_record(producer, "case", "h5"), {})
        (tmp_path / "artifacts" / producer).mkdir(parents=True)
        for consumer in STACKS:
            workspace.write(workspace.load_record(producer, consumer, "case", "h5"), {})
    assert forget_stack(workspace, "new") == 1 + 3 + 2  # its save, its column, its row minus the shared cell
    left = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")}
    assert not any("/new/" in path or path.endswith("/new") for path in left)
    assert len(left) == 2 + 4  # the others' saves, and their loads of each other
    assert not (tmp_path / "artifacts" / "new").exists() and (tmp_path / "artifacts" / "old").exists()
