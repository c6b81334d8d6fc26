"""Hub-free query cues: the query without the names that every memory of the namespace mentions.

A question naming a person of a conversation ("What does Melanie paint?") is pulled by the name
towards every memory by or about that person; the name identifies nothing there. In a corpus
where names are rare ("When was Haymo of Faversham born?") the name is the whole question. So
the cue drops exactly the names that are *hubs* of the namespace: held by more than a share
``h`` of its memories. Two cues are made, as in the conversational fusion they replace:

- ``c_n(q)``: the query's words without its hub names;
- ``c_c(q)``: also without stop words.

On a corpus without hub names both cues keep every name, so they cannot pull a passage query
away from its entity.

Example:
    >>> df = {"melanie": 60, "paris": 2}
    >>> hub_free_cues("What did Melanie paint in Paris?", df, n=100, hub_fraction=0.05)
    ('What did paint in Paris?', 'paint Paris?')
    >>> hub_free_cues("burst w0 part 2 of 3", df, n=100, hub_fraction=0.05)
    ('burst w0 part 2 of 3', 'burst w0 part 2 3')
"""

from __future__ import annotations

from collections.abc import Mapping

from ..linking import _STOPWORDS, _WORD


def word_key(token: str) -> str:
    """The key of a word for document frequencies: lower case, no surrounding quotes, no possessive."""
    return token.lower().strip("'-").removesuffix("'s")


def hub_free_cues(text: str, df: Mapping[str, int], *, n: int, hub_fraction: float) -> tuple[str, str]:
    """``(c_n, c_c)`` of a query; ``df[word]`` counts the namespace's memories holding the word.

    The cues are the query's own text with the dropped words cut out (the rest of it, digits
    inside words and punctuation included, is kept as written). A cue left empty falls back to
    the query text.
    """
    limit = hub_fraction * n
    nameless, content = [], []  # (start, end) spans of the words each cue drops
    for m in _WORD.finditer(text):
        tok = m.group(0)
        low = word_key(tok)
        is_name = tok[0].isupper() and low not in _STOPWORDS and len(low) > 1
        if is_name and df.get(low, 0) > limit:
            nameless.append(m.span())
            content.append(m.span())
        elif low in _STOPWORDS:
            content.append(m.span())
    return _cut(text, nameless), _cut(text, content)


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without the character spans, whitespace collapsed; the text itself when nothing is left."""
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        last = end
    parts.append(text[last:])
    out = " ".join("".join(parts).split())
    return out if any(ch.isalnum() for ch in out) else text
