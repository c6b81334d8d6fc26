"""Concept extraction by rules: the units a memory is *about*, found with no model and no download.

A concept is a normalised string ``"<kind>:<form>"``:

- ``e:`` **named entities and titles**: runs of capitalised words (``Golden Gate Bridge``), joined
  across the connectors ``of``/``de``/``von``/... (``Haymo of Faversham``), with honorifics and
  the possessive dropped, so ``"Dr. Ruiz"``, ``"Ruiz"`` and ``"Ruiz's"`` all give ``e:ruiz``. A run
  of two or more name words also gives its last word (``e:nolan`` from ``Christopher Nolan``),
  and a run of exactly two its first word too (``e:christopher``), which is how a later mention by
  surname or first name meets the full name. Words are Unicode (``e:gdańsk``).
- ``p:`` **multi-word noun phrases**: two consecutive content words in lower case
  (``"support group"`` -> ``p:support group``), each lightly stemmed (``p:pottery class`` for
  "pottery classes").
- ``n:`` **numbers and dates**: years (``n:2019``), month-year dates (``n:2023-05``) and
  numbers of two or more digits.
- ``w:`` **content words** (stemmed, at least :data:`MIN_WORD` letters): off unless asked for
  (:func:`extract_concepts` ``words=True``), because they turn the concept graph into a
  term-overlap graph that BM25 already covers.

A leading ``Speaker:`` label is not part of what a memory is about and is skipped.

Example:
    >>> extract_concepts("Dr. Ruiz's clinic moved to Elm Street in May 2023.")
    ['e:ruiz', 'p:clinic moved', 'e:elm street', 'n:2023', 'n:2023-05']
    >>> extract_concepts("Melanie: I joined a pottery class with Anna Berg!")
    ['p:pottery class', 'e:anna berg', 'e:berg', 'e:anna']
"""

from __future__ import annotations

import re

from ..linking import _STOPWORDS

#: Shortest content word (letters) used as a ``w:`` concept or inside a ``p:`` phrase.
MIN_WORD = 4
#: Concepts kept per memory (the first ones in text order; a memory is about a few things).
MAX_CONCEPTS = 64

_TOKEN = re.compile(r"[^\W_][\w'’\-]*")  # Unicode letters and digits: "Gdańsk" is one word
_SPEAKER = re.compile(r"^\s*[A-Z][\w .'-]{0,40}:\s+")
_HONORIFIC = frozenset("dr mr mrs ms mx prof sir dame lord lady st mt rev sgt capt gen col lt".split())
_CONNECTOR = frozenset("of de del della di da du la le van von der den y al bin ibn".split())
# Last words of multi-word names that name a kind of thing, not the thing ("Elm Street").
_GENERIC_HEADS = frozenset("""street road avenue lane city town county state province country river lake mountain
    island park bridge station airport hospital school college university institute academy church cathedral museum
    center centre hall house club team band group company corporation inc ltd party award awards prize war day
    festival series show album film movie song book records studio studios games league cup""".split())
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTH_ABBR = {m[:3]: i for m, i in _MONTHS.items()}
# Capitalised words that are not names even mid-sentence (the stop list covers sentence starters).
_NOT_NAMES = frozenset("i im ive ill id".split()) | _STOPWORDS


def _stem(word: str) -> str:
    """A light suffix strip: 'classes' -> 'class', 'paintings' -> 'painting', 'stories' -> 'story'."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("sses", "shes", "ches", "xes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _clean(tok: str) -> str:
    t = tok.replace("’", "'").strip("'-")
    if t.lower().endswith("'s"):
        t = t[:-2]
    return t


def extract_concepts(text: str, *, words: bool = False, max_concepts: int = MAX_CONCEPTS) -> list[str]:
    """The concepts of one text, in order of first appearance, without duplicates.

    Args:
        text: a memory's (or a query's) text.
        words: also emit single content words (``w:``).
        max_concepts: keep at most this many.

    Returns:
        normalised concept strings (see the module docstring).
    """
    out: dict[str, None] = {}

    def emit(c: str) -> None:
        if len(out) < max_concepts:
            out.setdefault(c, None)

    body = _SPEAKER.sub("", text, count=1)
    toks = list(_TOKEN.finditer(body))
    run: list[str] = []          # current capitalised run (cleaned words, connectors included)
    phrase: list[str] = []       # current run of lower-case content words (stems)
    pending_month: int | None = None

    def flush_run() -> None:
        while run and run[-1].lower() in _CONNECTOR:
            run.pop()
        if run:
            names = [w for w in run if w.lower() not in _CONNECTOR]
            emit("e:" + " ".join(run).lower())
            if len(names) >= 2 and len(run) == len(names) and names[-1].lower() not in _GENERIC_HEADS:
                emit("e:" + names[-1].lower())
                if len(names) == 2:  # a person's name: the first name alone meets it too ("Tomasz")
                    emit("e:" + names[0].lower())
        run.clear()

    def flush_phrase() -> None:
        for a, b in zip(phrase, phrase[1:]):
            emit(f"p:{a} {b}")
        phrase.clear()

    prev_end = 0
    for m in toks:
        raw = m.group(0)
        gap = body[prev_end:m.start()]
        prev_end = m.end()
        if gap.strip():  # punctuation ends a name and a phrase
            flush_run()
            flush_phrase()
        tok = _clean(raw)
        if not tok:
            continue
        low = tok.lower()
        if tok[0].isdigit():
            flush_run()
            flush_phrase()
            digits = tok.replace(",", "")
            if digits.isdigit():
                if len(digits) == 4 and 1000 <= int(digits) <= 2099:
                    emit(f"n:{digits}")
                    if pending_month is not None:
                        emit(f"n:{digits}-{pending_month:02d}")
                elif len(digits) >= 2:
                    emit(f"n:{digits}")
            if len(digits) > 2:
                pending_month = None
            continue
        month = _MONTHS.get(low) or (_MONTH_ABBR.get(low[:3]) if len(low) == 3 else None)
        if month is not None and tok[0].isupper():
            flush_run()
            flush_phrase()
            pending_month = month
            continue
        pending_month = None
        if tok[0].isupper() and low not in _NOT_NAMES and len(low) > 1:
            flush_phrase()
            if low in _HONORIFIC:
                flush_run()
                continue  # "Dr. Ruiz" is Ruiz
            run.append(tok)
            continue
        if run and low in _CONNECTOR:
            run.append(low)
            continue
        flush_run()
        if low in _STOPWORDS or len(low) < MIN_WORD or not low.isalpha():
            flush_phrase()
            continue
        stem = _stem(low)
        phrase.append(stem)
        if words:
            emit("w:" + stem)
    flush_run()
    flush_phrase()
    return list(out)
