"""Where associations come from, without any LLM: sequence order and shared entities / key phrases.

- **order**: consecutive items of one sequence (turns of one conversation session) are linked
  both ways, ``i <-> i+1``.
- **entities**: each memory's terms (capitalised names, numbers and years, and rare content-word
  key phrases) are recorded; a new memory is linked both ways to the most recent
  ``max_links_per_term`` earlier memories sharing a term, but only for terms held by at most
  ``max_df`` memories (a term shared by very many memories, like a speaker's name, identifies
  nothing and would make one big clique).

Each source can be switched off in :class:`LinkConfig`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .errors import InvalidInputError

#: Link source names recorded in the ``assoc_links.source`` column.
SOURCE_MANUAL = "manual"
SOURCE_ORDER = "order"
SOURCE_ENTITY = "entity"

_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just let me more most my myself no nor not now
    of off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves yes yeah oh hey hi hello
    wow thanks thank really also like get got going go gonna know think good great nice lot much one two make made
    sure well right awesome amazing cool love loved glad happy totally definitely always never ever still even
    last first way thing things something anything everything time day today yesterday tomorrow week month year been being
    im ive youre thats dont cant didnt doesnt isnt wasnt its lets id youve weve theyre
    monday tuesday wednesday thursday friday saturday sunday may january february march april june july
    august september october november december""".split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*|\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class LinkConfig:
    """Automatic link sources.

    Attributes:
        order: link consecutive memories of a sequence (``Memory.add(..., sequence=True)``).
        entities: link memories sharing a rare entity or key phrase (off by default: on LoCoMo dev
            it did not help, see docs/associative.md).
        max_df: a term held by more memories than this is not used for linking.
        max_links_per_term: links made per shared term to the most recent earlier holders.
        min_word_len: shortest content word used as a key phrase.
    """

    order: bool = True
    entities: bool = False
    max_df: int = 8
    max_links_per_term: int = 2
    min_word_len: int = 5

    def __post_init__(self) -> None:
        for name in ("max_df", "max_links_per_term", "min_word_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"LinkConfig.{name} must be an int >= 1, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def order_pairs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """Both-way links between consecutive ids: ``[(a, b), (b, a), (b, c), (c, b), ...]``."""
    ids = [int(i) for i in ids]
    out = []
    for a, b in zip(ids, ids[1:]):
        if a != b:
            out += [(a, b), (b, a)]
    return out


def _stem(word: str) -> str:
    """A light suffix strip so that 'painting'/'paintings'/'painted' share a key phrase."""
    w = word.lower().strip("'-")
    for suf in ("ings", "ing", "ies", "ied", "es", "ed", "s"):
        if len(w) - len(suf) >= 4 and w.endswith(suf):
            return w[: -len(suf)] + ("y" if suf in ("ies", "ied") else "")
    return w


def extract_terms(text: str, *, min_word_len: int = 5) -> set[str]:
    """Entities and key phrases of a text, found by rules (no model).

    - ``e:<name>``: capitalised words that are not stop words, and runs of them
      ("Golden Gate Bridge"), lower-cased;
    - ``n:<number>``: numbers and years;
    - ``k:<stem>``: content words of at least ``min_word_len`` letters that are not stop words,
      lightly stemmed.

    Example:
        >>> sorted(extract_terms("Yesterday I met Anna Berg at the pottery workshop in 2021."))
        ['e:anna berg', 'k:pottery', 'k:workshop', 'n:2021']
    """
    terms: set[str] = set()
    run: list[str] = []

    def flush() -> None:
        if run:
            terms.add("e:" + " ".join(run).lower())
            run.clear()

    prev_end = 0
    for m in _WORD.finditer(text):
        tok = m.group(0)
        if text[prev_end : m.start()].strip():  # punctuation between words ends a name
            flush()
        prev_end = m.end()
        if tok[0].isdigit():
            flush()
            terms.add("n:" + tok.replace(",", ""))
            continue
        low = tok.lower().strip("'-")
        # A capitalised word that is not a stop word is taken as (part of) a name, also at a
        # sentence start (sentence starters are nearly always stop words: "The", "I", "We"...).
        is_name = tok[0].isupper() and low not in _STOPWORDS and len(low) > 1
        if is_name:
            run.append(tok.strip("'-").removesuffix("'s"))
            continue
        flush()
        if len(low) >= min_word_len and low not in _STOPWORDS and low.isalpha():
            terms.add("k:" + _stem(low))
    flush()
    return terms


__all__ = [
    "LinkConfig",
    "SOURCE_ENTITY",
    "SOURCE_MANUAL",
    "SOURCE_ORDER",
    "extract_terms",
    "order_pairs",
]
