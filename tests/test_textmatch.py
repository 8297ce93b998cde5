"""Word matching: stems join word forms, never unrelated words, and IDs match as typed."""

from __future__ import annotations

from atlaskb.textmatch import Haystack, stem


def test_search_never_merges_unrelated_words():
    assert stem("poisoning") == stem("poisoned") == stem("poisons") == "poison"
    assert stem("class") == "class" and stem("analysis") == "analysis" and stem("status") == "status"
    assert not Haystack("Layout of the matrix").has("layers")
    assert Haystack("AML.T0051.000").has("t0051")  # as typed, inside a word
