"""A small store with sequences, names and links (hash encoder) shared by the recall network tests."""

from __future__ import annotations

import itertools
import shutil

import pytest

PEOPLE = ["Alice Moreau", "Bram Kowalski", "Chidi Okafor", "Dana Whitfield", "Elena Ruiz", "Farid Haddad"]
PLACES = ["Gdańsk", "Lisbon", "Nairobi", "Osaka", "Quito"]
THINGS = ["pottery class", "marathon training", "violin lessons", "rock climbing", "sourdough baking",
          "chess club", "birdwatching trip"]
QUESTIONS = [
    "What did Alice Moreau start in Lisbon?",
    "Who went on a birdwatching trip?",
    "Where does Bram Kowalski do marathon training?",
    "When did Chidi Okafor take violin lessons?",
    "What hobby did Dana Whitfield pick up in Osaka?",
    "Which city did Elena Ruiz visit for rock climbing?",
    "Tell me about sourdough baking",
    "What happened in Nairobi in 2021?",
    "Did Farid Haddad join the chess club?",
    "Who took pottery class?",
]


def texts() -> list[tuple[str, dict]]:
    """42 memories (every person with every hobby) in 6 sessions; each names a person, a place, a hobby and a year."""
    out = []
    combos = itertools.product(range(len(PEOPLE)), range(len(THINGS)))
    for n, (p, t) in enumerate(combos):
        person, thing, place = PEOPLE[p], THINGS[t], PLACES[(p + t) % len(PLACES)]
        year = 2015 + (n % 8)
        text = [f"{person} started {thing} in {place} in {year}.",
                f"In {year} {person} told everyone about the {thing} near {place}.",
                f"{person} said the {thing} in {place} was the best part of {year}."][n % 3]
        out.append((text, {"session": f"S{p}"}))
    return out


@pytest.fixture(scope="session")
def recall_store_master(tmp_path_factory, hash_encoder):
    from hybrid import Memory

    path = tmp_path_factory.mktemp("recall-store") / "store"
    with Memory.open(path, encoder=hash_encoder, device="cpu") as mem:
        rows = texts()
        mem.add([t for t, _ in rows], metadata=[m for _, m in rows], dedupe=False)
    return path


@pytest.fixture
def recall_memory(recall_store_master, tmp_path, hash_encoder):
    """An open copy of the session store (each test gets its own)."""
    from hybrid import Memory

    path = tmp_path / "store"
    shutil.copytree(recall_store_master, path)
    mem = Memory.open(path, encoder=hash_encoder, device="cpu")
    yield mem
    mem.close()
