"""`atlaskb.lint`: which findings are errors (what makes `lint` exit 1)."""

from __future__ import annotations

from atlaskb.lint import error_count, has_errors
from atlaskb.model import Finding


def test_errors_are_counted_and_warnings_are_not():
    warning = Finding("warning", "no-page", "a.md", 1, "linked to but has no page")
    error = Finding("error", "broken-link", "b.md", 2, "no such object")
    assert error_count([]) == 0 and not has_errors([])
    assert error_count([warning, warning]) == 0 and not has_errors([warning])
    assert error_count([warning, error, error]) == 2 and has_errors([warning, error])
