"""Input checks at the door (hybrid.validation, used by the store, encoder and memory)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.errors import InvalidInputError
from hybrid.store import Key
from hybrid.validation import INT64_MAX, MAX_METADATA_DEPTH, check_json_value, memory_ids

LONE = "\udcff"


def _nested(depth: int) -> dict:
    value: object = 1
    for _ in range(depth - 1):
        value = [value]
    return {"k": value}


def test_check_json_value_accepts_ordinary_metadata():
    check_json_value({"a": 1, "b": [1.5, "x", None, True, {"c": -(2**63)}], "é": "\U0001f600"}, "metadata")
    check_json_value(_nested(MAX_METADATA_DEPTH), "metadata")


@pytest.mark.parametrize("value, needle", [
    ({"k": LONE}, "surrogate"), ({LONE: 1}, "surrogate"), ({"k": [2**64]}, "64-bit"),
    ({"k": float("nan")}, "finite"), (_nested(MAX_METADATA_DEPTH + 1), "nested"), (_nested(100_000), "nested"),
])
def test_check_json_value_refuses(value, needle):
    with pytest.raises(InvalidInputError, match=needle):
        check_json_value(value, "metadata")


def test_memory_ids():
    assert memory_ids([1, np.int64(2), INT64_MAX]) == [1, 2, INT64_MAX]
    for bad in (2**63, -(2**64), True, "3", 1.0):
        with pytest.raises(InvalidInputError):
            memory_ids([bad])
    with pytest.raises(InvalidInputError, match="bits"):
        memory_ids([10**5000])  # no ValueError from int -> str conversion limits


def test_memory_refuses_what_it_cannot_store(hash_memory):
    mem = hash_memory
    mem.add(["a fine memory"])
    cases = [
        lambda: mem.add([f"text {LONE}"]),
        lambda: mem.add(["text"], metadata={"k": f"v{LONE}"}),
        lambda: mem.add(["text"], metadata={"k": 2**70}),
        lambda: mem.add(["text"], metadata=_nested(5000)),
        lambda: mem.search(f"query {LONE}"),
        lambda: mem.search("query", where={"k": 2**64}),
        lambda: mem.search("query", where={"k": f"v{LONE}"}),
        lambda: mem.get(2**64),
        lambda: mem.delete([2**64]),
        lambda: mem.link(1, 2**64),
        lambda: mem.list(limit=2**64),
        lambda: mem.update(1, metadata={"k": LONE}),
        lambda: mem.store.add(["t"], [[Key("text", "t", np.full(mem.store.dim, np.nan, np.float32))]]),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(InvalidInputError):
            case()
        assert [r.text for r in mem.list()] == ["a fine memory"], i
