"""`atlaskb.sources.files`: the frontmatter fast path must agree with YAML wherever it
answers at all; a small user file is read whole or refused with its name."""

from __future__ import annotations

import os

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from atlaskb.errors import SourceError
from atlaskb.sources.files import YamlProblem, _simple_frontmatter, load_frontmatter_yaml, read_small_file

keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)
values = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).map(lambda s: f'"{s}"'),
    st.from_regex(r"[A-Za-z][A-Za-z0-9 _.,()/+:#'-]{0,20}", fullmatch=True),
    st.integers(min_value=0, max_value=10**6).map(str),
    st.sampled_from(["true", "No", "null", "~", "2024-01-01", "1.5", "0123", "[a, b]", "{a: 1}", "&x a", "*x", "'q'"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(keys, values), min_size=1, max_size=6, unique_by=lambda kv: kv[0]))
def test_fast_path_agrees_with_yaml(pairs):
    text = "\n".join(f"{k}: {v}" for k, v in pairs)
    fast = _simple_frontmatter(text)
    if fast is None:
        return
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        raise AssertionError(f"fast path accepted text YAML rejects: {text!r}") from None
    assert fast == expected


def test_real_page_frontmatter_takes_the_fast_path():
    text = 'id: use-ensemble-methods\ntitle: "AML.M0006: Use Ensemble Methods"\nsidebar_position: 7\ntype: mitigation'
    assert _simple_frontmatter(text) == {
        "id": "use-ensemble-methods", "title": "AML.M0006: Use Ensemble Methods",
        "sidebar_position": 7, "type": "mitigation"}


def test_anything_unusual_goes_to_yaml_with_line_numbers():
    try:
        load_frontmatter_yaml("a: 1\nb: [unclosed\nc: 2")
    except YamlProblem as e:
        assert e.line == 3
    else:
        raise AssertionError("expected a YamlProblem")


def test_read_small_file_reads_text_with_newline_line_ends(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes("mitigations:\r\n  - AML.M0002\r  - é\n".encode("utf-8"))
    assert read_small_file(str(path), 100, "profile", "a coverage profile") == "mitigations:\n  - AML.M0002\n  - é\n"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"x" * (1024 * 1024 + 1)), "larger than 1 MB; not a coverage profile"),
    (lambda p: p.write_bytes(b"\xff\xfe"), "not UTF-8 text"),
    (lambda p: p.mkdir(), "is a folder, not a profile file"),
    (lambda p: None, "no such profile file"),
    (lambda p: os.mkfifo(p), "cannot read: not a regular file"),  # a plain open would block forever
])
def test_read_small_file_refuses_with_the_files_name(tmp_path, make, message):
    path = tmp_path / "p.yaml"
    make(path)
    with pytest.raises(SourceError) as e:
        read_small_file(str(path), 1024 * 1024, "profile", "a coverage profile")
    assert str(e.value) == f"{path}: {message}"
