"""Loaders on hand-written official-format fixtures, and on the LoCoMo development file when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybrid.errors import InvalidInputError
from hybrid.eval.beir import load_beir
from hybrid.eval.locomo import load_locomo, parse_evidence
from hybrid.eval.longmemeval import answer_in_retrieved, load_longmemeval

DATA = Path(__file__).resolve().parents[2] / "data" / "eval"
#: Questions of the LoCoMo dev file (5 conversations) with usable evidence, and those skipped.
LOCOMO_DEV_QUERIES = 997
LOCOMO_DEV_SKIPPED = 2


def test_parse_evidence_malformed_strings():
    ids, counts = parse_evidence(["D8:6; D9:17", "D", "D:11:26", "D30:05"])
    assert ids == ["D8:6", "D9:17", "D11:26", "D30:5"]
    assert counts == {"split": 1, "malformed": 1, "repaired": 1}
    assert parse_evidence(None) == ([], {})
    assert parse_evidence("D1:2")[0] == ["D1:2"]


def test_locomo_tiny():
    es = load_locomo(DATA / "locomo_tiny.json")
    assert [p.name for p in es.partitions] == ["conv-t1", "conv-t2"]
    p = es.partitions[0]
    assert [d.id for d in p.docs] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert p.docs[2].text == "Ann: A beagle. Look at him. [shares a photo: a photo of a beagle on grass]"
    assert p.docs[3].meta["date"] == "9:30 am on 8 May, 2023" and p.docs[3].meta["speaker"] == "Bob"
    assert p.docs[3].group == "D2"
    gold = {q.text: q.gold for q in p.queries}
    assert gold["What pet does Ann have and where does it like to go?"] == ["D1:1", "D2:2"]
    assert gold["When did Bob start pottery?"] == ["D2:1"]
    assert gold["Which class did Bob take?"] == ["D2:1"]
    assert gold["What did Bob name his puppy?"] == ["D1:1"]
    adv = next(q for q in p.queries if q.category == "adversarial")
    assert adv.answer == "Rex"
    assert es.n_queries == 6 and es.n_docs == 7
    assert dict(es.skipped) == {"no usable evidence (open-domain)": 1}
    assert es.notes["evidence"] == {"split": 1, "malformed": 1, "repaired": 1, "unknown turn": 1}


def test_locomo_conversation_selection_and_errors(tmp_path):
    es = load_locomo(DATA / "locomo_tiny.json", conversations=[1])
    assert [p.name for p in es.partitions] == ["conv-t2"]
    with pytest.raises(InvalidInputError, match="conversations: index 5"):
        load_locomo(DATA / "locomo_tiny.json", conversations=[5])
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    with pytest.raises(InvalidInputError, match="bad.json"):
        load_locomo(bad)


def test_longmemeval_turn_user_only():
    es = load_longmemeval(DATA / "longmemeval_tiny.json")
    assert [p.name for p in es.partitions] == ["q1"]
    p = es.partitions[0]
    assert [d.id for d in p.docs] == ["s_a_1", "answer_x1_1", "noans_x1_3", "s_b_1"]
    assert [d.group for d in p.docs] == ["s_a", "answer_x1", "noans_x1", "s_b"]
    assert p.queries[0].gold == ["answer_x1_1"]
    assert dict(es.skipped) == {"abstention (_abs)": 1, "no evidence in indexed turns": 1}
    assert es.notes["gold_not_in_answer_session_ids"] == 0


def test_longmemeval_with_assistant_and_session_granularity():
    es = load_longmemeval(DATA / "longmemeval_tiny.json", with_assistant=True)
    q3 = next(p for p in es.partitions if p.name == "q3")
    assert [d.id for d in q3.docs] == ["noans_x3_1", "answer_x3_2", "s_c_1", "s_c_2"]
    assert q3.queries[0].gold == ["answer_x3_2"]
    ses = load_longmemeval(DATA / "longmemeval_tiny.json", granularity="session")
    q1 = ses.partitions[0]
    assert [d.id for d in q1.docs] == ["s_a", "answer_x1", "s_b"]
    assert q1.docs[1].text == "I just bought a red bike for commuting. Any tips for riding in the rain?"
    assert ses.skipped["no evidence in indexed turns"] == 1, "answer_x3 has no user has_answer turn -> noans"
    with pytest.raises(InvalidInputError, match="granularity"):
        load_longmemeval(DATA / "longmemeval_tiny.json", granularity="word")


def test_answer_in_retrieved():
    p = load_longmemeval(DATA / "longmemeval_tiny.json").partitions[0]
    m = answer_in_retrieved(ks=(1, 2))
    assert m(p, p.queries[0], [1, 0]) == {"answer_in_top@1": 1.0, "answer_in_top@2": 1.0}
    assert m(p, p.queries[0], [0, 1]) == {"answer_in_top@1": 0.0, "answer_in_top@2": 1.0}


def test_beir_tiny():
    es = load_beir(DATA / "beir_tiny")
    p = es.partitions[0]
    assert [d.id for d in p.docs] == ["d1", "d2", "d3", "d4"]
    assert p.docs[0].text == "Beagles The beagle is a small scent hound."
    assert p.docs[1].text == "Pottery is the craft of shaping clay."
    qs = {q.id: q for q in p.queries}
    assert set(qs) == {"q1", "q2"}
    assert qs["q2"].gold == ["d2", "d4"] and qs["q2"].gains == {"d2": 2.0, "d4": 1.0}
    assert dict(es.skipped) == {"qrels of unknown documents": 1, "qrels of unknown queries": 1}
    with pytest.raises(InvalidInputError, match="dev.tsv"):
        load_beir(DATA / "beir_tiny", split="dev")


@pytest.mark.data
def test_locomo_dev_file(locomo_dev):
    es = load_locomo(locomo_dev)
    assert es.n_queries == LOCOMO_DEV_QUERIES, f"expected {LOCOMO_DEV_QUERIES} usable questions"
    assert sum(es.skipped.values()) == LOCOMO_DEV_SKIPPED
    raw = json.loads(Path(locomo_dev).read_text())
    assert es.n_docs == sum(len(v) for s in raw for k, v in s["conversation"].items()
                            if k.startswith("session_") and isinstance(v, list))
    assert es.notes["evidence"]["malformed"] >= 1 and es.notes["evidence"]["repaired"] >= 1
