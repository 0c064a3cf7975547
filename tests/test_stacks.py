"""The stacks declaration: the shipped one loads, broken ones say what to fix, selection."""

from pathlib import Path

import pytest

from matrix.errors import SelectionError, StackDeclarationError
from matrix.stacks import Stack, load_stacks, select_stacks

GOOD = """
[[stack]]
id = "tf2.15-py3.11"
python = "3.11"
requirements = ["tensorflow-cpu==2.15.1"]
family = "keras2"
tags = ["quick"]

[[stack]]
id = "tf2.16-tfkeras-py3.11"
python = "3.11"
requirements = ["tensorflow-cpu==2.16.2", "tf-keras==2.16.0"]
env = { TF_USE_LEGACY_KERAS = "1" }
family = "tf_keras"

[[stack]]
id = "tf-nightly-py3.12"
python = "3.12"
requirements = ["tf-nightly-cpu"]
family = "nightly"
default = false
"""


def declare(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stacks.toml"
    path.write_text(text)
    return path


def test_shipped_declaration_spans_the_keras_boundary() -> None:
    stacks = load_stacks()
    ids = [s.id for s in stacks]
    assert "tf2.9-py3.8" in ids and any(s.env.get("TF_USE_LEGACY_KERAS") == "1" for s in stacks)
    assert {s.python for s in stacks} >= {"3.8", "3.11"}
    assert any(r.startswith("keras==3") for s in stacks for r in s.requirements)


def pinned_minor(stack: Stack, package: str) -> str | None:
    for requirement in stack.requirements:
        name, _, version = requirement.partition("==")
        if name == package and version:
            return ".".join(version.split(".")[:2])
    return None


def test_shipped_declaration_covers_the_version_axis() -> None:
    stacks = load_stacks()
    keras2 = {pinned_minor(s, "tensorflow-cpu") or pinned_minor(s, "tensorflow")
              for s in stacks if s.family == "keras2"}
    assert keras2 == {"1.15", *(f"2.{n}" for n in range(16))}
    keras3 = {pinned_minor(s, "keras") for s in stacks if s.family == "keras3"}
    assert keras3 == {f"3.{n}" for n in range(16)}
    tf_keras = {pinned_minor(s, "tensorflow-cpu") for s in stacks if s.family == "tf_keras"}
    minors = {pinned_minor(s, "tensorflow-cpu") or "0.0" for s in stacks}
    newest_tf = max(minors, key=lambda v: tuple(map(int, v.split("."))))
    assert tf_keras == {"2.16", newest_tf}
    assert all(s.env.get("TF_USE_LEGACY_KERAS") == "1" for s in stacks if s.family == "tf_keras")
    outside = {s.id for s in stacks if not s.default}
    assert "tf-nightly-py3.12" in outside and not outside & {s.id for s in stacks if {"quick", "eras"} & set(s.tags)}
    newest = {s.family: s for s in stacks}  # the declaration lists each family oldest first
    assert all(newest[family].default for family in ("keras2", "tf_keras", "keras3"))
    quick = [s for s in stacks if "quick" in s.tags]
    assert {s.family for s in quick} == {"keras2", "standalone-keras2", "tf_keras", "keras3"}
    assert "jax" in {s.keras_backend for s in quick}


def test_shipped_declaration_covers_eras_backends_and_pythons() -> None:
    stacks = load_stacks()
    standalone = [s for s in stacks if s.family == "standalone-keras2"]
    assert {pinned_minor(s, "keras") for s in standalone} == {"2.1", "2.2", "2.3"}
    assert all(s.env.get("KERAS_BACKEND") == "tensorflow" and pinned_minor(s, "tensorflow") for s in standalone)
    for backend in ("jax", "torch"):  # the newest Keras 3 and an older minor
        on_it = [s for s in stacks if s.keras_backend == backend]
        assert all(s.family == "keras3" for s in on_it) and len({pinned_minor(s, "keras") for s in on_it}) >= 2
    for family in ("keras2", "keras3"):  # one Keras on two Pythons, its pins unchanged
        pythons: dict[tuple[str, ...], set[str]] = {}
        for s in stacks:
            if s.family == family:
                pythons.setdefault(tuple(sorted(s.requirements)), set()).add(s.python)
        assert any(len(found) >= 2 for found in pythons.values())


def test_fields_are_loaded(tmp_path: Path) -> None:
    legacy = load_stacks(declare(tmp_path, GOOD))[1]
    assert legacy.env == {"TF_USE_LEGACY_KERAS": "1"}
    assert legacy.requirements == ("tensorflow-cpu==2.16.2", "tf-keras==2.16.0")


def test_the_keras_backend_is_a_tag(tmp_path: Path) -> None:
    jax = """
[[stack]]
id = "keras3.15-jax-py3.11"
python = "3.11"
requirements = ["keras==3.15.1", "jax[cpu]"]
env = { KERAS_BACKEND = "jax" }
family = "keras3"
tags = ["quick"]
"""
    stacks = load_stacks(declare(tmp_path, GOOD + jax))
    assert [s.keras_backend for s in stacks] == ["tensorflow", "tensorflow", "tensorflow", "jax"]
    assert [s.id for s in select_stacks(stacks, [], ["jax"])[0]] == ["keras3.15-jax-py3.11"]
    assert stacks[-1].labels == ("keras3", "jax", "quick")


@pytest.mark.parametrize(
    ("broken", "complaint"),
    [
        (GOOD.replace('python = "3.12"', 'python = "3.12.1"'), "'tf-nightly-py3.12': python"),
        (GOOD.replace('requirements = ["tf-nightly-cpu"]', ""), "'tf-nightly-py3.12': field 'requirements'"),
        (GOOD.replace('tags = ["quick"]', 'tag = ["quick"]'), "unknown field(s) ['tag']"),
        (GOOD.replace('family = "keras2"', 'family = "keras9"'), "'tf2.15-py3.11': family = 'keras9'; declare one of"),
        (GOOD.replace('family = "nightly"\n', ""), "'tf-nightly-py3.12': family = None; declare one of keras2,"),
        (GOOD.replace("tf-nightly-py3.12", "tf2.15-py3.11"), "declared twice"),
        ("[[stack]\nid=", "cannot read"),
        ("", "found none"),
    ],
)
def test_broken_declarations_name_the_stack_and_field(tmp_path: Path, broken: str, complaint: str) -> None:
    with pytest.raises(StackDeclarationError, match=None) as raised:
        load_stacks(declare(tmp_path, broken))
    assert complaint in str(raised.value)


def test_selection_by_pattern_and_default(tmp_path: Path) -> None:
    stacks = load_stacks(declare(tmp_path, GOOD))
    assert [s.id for s in select_stacks(stacks, [])[0]] == ["tf2.15-py3.11", "tf2.16-tfkeras-py3.11"]
    chosen, unmatched = select_stacks(stacks, ["tf2.1[5-6]*", "tf9*"])
    assert [s.id for s in chosen] == ["tf2.15-py3.11", "tf2.16-tfkeras-py3.11"] and unmatched == ["tf9*"]
    assert [s.id for s in select_stacks(stacks, ["tf-nightly*"])[0]] == ["tf-nightly-py3.12"]


def test_selection_by_family_or_tag_reaches_stacks_outside_the_default_set(tmp_path: Path) -> None:
    stacks = load_stacks(declare(tmp_path, GOOD))
    assert [s.id for s in select_stacks(stacks, [], ["nightly"])[0]] == ["tf-nightly-py3.12"]
    assert [s.id for s in select_stacks(stacks, [], ["keras2", "nightly"])[0]] == ["tf2.15-py3.11", "tf-nightly-py3.12"]
    assert [s.id for s in select_stacks(stacks, ["tf2*"], ["nightly", "keras2"])[0]] == ["tf2.15-py3.11"]
    assert [s.id for s in select_stacks(stacks, [], ["quick"])[0]] == ["tf2.15-py3.11"]
    assert len(select_stacks(stacks, [], everything=True)[0]) == 3
    with pytest.raises(SelectionError,
                       match=r"no stack matches tag 'keras9'.*known tags: keras2, nightly, quick, tensorflow"):
        select_stacks(stacks, [], ["keras9"])


def test_selecting_nothing_is_an_error_listing_known_stacks(tmp_path: Path) -> None:
    with pytest.raises(SelectionError, match=r"known stacks: tf2\.15-py3\.11"):
        select_stacks(load_stacks(declare(tmp_path, GOOD)), ["tf9*"])


def test_fingerprint_follows_pins_not_tags(tmp_path: Path) -> None:
    a, b, _ = load_stacks(declare(tmp_path, GOOD))
    retagged = load_stacks(declare(tmp_path, GOOD.replace('tags = ["quick"]', 'tags = ["slow"]')))[0]
    repinned = load_stacks(declare(tmp_path, GOOD.replace("2.15.1", "2.15.0")))[0]
    assert a.fingerprint() == retagged.fingerprint() != repinned.fingerprint() != b.fingerprint()
