"""Errors that reach the user as a message and an exit code, never as a traceback."""

from __future__ import annotations


class AtlasError(Exception):
    """A problem the user can act on. `exit_code` follows the CLI's contract:
    1 for not found / findings, 2 for usage."""

    exit_code = 1


class NotFound(AtlasError):
    """An ID or name that matches no object."""

    def __init__(self, query: str, suggestions: list[str] | None = None):
        self.query = query
        self.suggestions = suggestions or []
        msg = f"no object matches {query!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(self.suggestions) + "?"
        super().__init__(msg)


class UsageError(AtlasError):
    exit_code = 2


class SourceError(AtlasError):
    """A source that cannot be read at all (missing path, unknown format)."""

    exit_code = 2
