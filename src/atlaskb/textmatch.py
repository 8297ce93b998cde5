"""Matching a user's search words against object text, forgiving word forms.

One home for the rule, so `atlaskb search` and the site's search index agree (the
index carries `RULES`, and the page's script applies them with the same steps): a query
word matches a text when it occurs in it as typed (so IDs and partial words still
work), or when its stem begins the stem of one of the text's words, so that
"poisoning" finds "Poison Training Data" and "injections" finds "Prompt Injection".

The stemmer is deliberately small (English plural and verb endings only), because
ATLAS names are short technical phrases: it must never merge unrelated words, and a
missed form costs less than a wrong hit. No dependency is needed for that.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
# (suffix, replacement), longest first; the first that leaves a stem of at least
# _MIN_STEM letters is applied, once.
_SUFFIXES = (
    ("ations", "ate"), ("ation", "ate"), ("ings", ""), ("ing", ""), ("ions", ""), ("ion", ""),
    ("ies", "y"), ("ied", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"),
    ("ed", ""), ("es", "e"), ("s", ""),
)
_KEEP_S = ("ss", "us", "is")  # class, status, analysis: not plurals
_MIN_STEM = 3
_UNDOUBLE = ("ing", "ings", "ed")  # running → run, dropped → drop
# The rule as data, for the site's search script (templates/static/search.js).
RULES = {"suffixes": [list(pair) for pair in _SUFFIXES], "keep": list(_KEEP_S), "min": _MIN_STEM,
         "undouble": list(_UNDOUBLE)}


def words(text: str) -> list[str]:
    """Lower-case words (letters and digits) of `text`."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """The word without its plural or verb ending: poisoning, poisoned, poisons → poison."""
    w = word.lower()
    if w.endswith(_KEEP_S):
        return w
    for suffix, replacement in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) + len(replacement) >= _MIN_STEM:
            base = w[: len(w) - len(suffix)] + replacement
            if suffix in _UNDOUBLE and len(base) > _MIN_STEM and base[-1] == base[-2]:
                base = base[:-1]
            return base
    return w


class Haystack:
    """One text prepared for repeated matching: its lower-case form and its words' stems."""

    __slots__ = ("lower", "stems")

    def __init__(self, text: str):
        self.lower = text.lower()
        self.stems = {stem(w) for w in words(text)}

    def has(self, query_word: str) -> bool:
        """Does `query_word` (lower case) occur here, as typed or as a word form?"""
        if query_word in self.lower:
            return True
        root = stem(query_word)
        if not root:
            return False
        return any(s.startswith(root) for s in self.stems)


def query_words(text: str) -> list[str]:
    """The words of a query, lower case, split on whitespace (punctuation kept: `AML.T0051`)."""
    return text.lower().split()
