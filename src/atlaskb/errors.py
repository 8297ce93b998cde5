"""Errors that reach the user as a message and an exit code, never as a traceback."""

from __future__ import annotations


class AtlasError(Exception):
    """A problem the user can act on. `exit_code` follows the CLI's contract:
    1 for not found / findings, 2 for usage."""

    exit_code = 1


class NotFound(AtlasError):
    """An ID or name that matches no object."""

    def __init__(self, query: str, suggestions: list[str] | None = None, matches: int = 0,
                 actual_type: str | None = None, wanted_type: str | None = None, object_id: str | None = None):
        self.query = query
        self.suggestions = suggestions or []
        # How many objects the query partly matched (more than one: it is ambiguous).
        self.matches = matches
        # Set when the ID exists but names an object of another type than the one wanted.
        self.actual_type, self.wanted_type = actual_type, wanted_type
        self.object_id = object_id or query.strip().upper()
        if actual_type and wanted_type:
            msg = f"{self.object_id} is a {actual_type}, not a {wanted_type}"
        elif matches > 1:
            msg = f"{query!r} is ambiguous: {matches} names contain it"
        else:
            msg = f"no object matches {query!r}"
        if self.suggestions:
            more = matches - len(self.suggestions) if matches > 1 else 0
            msg += "; did you mean " + ", ".join(self.suggestions) + (f" (or {more} more)" if more > 0 else "") + "?"
        super().__init__(msg)


class UsageError(AtlasError):
    exit_code = 2


class SourceError(AtlasError):
    """A source that cannot be read at all (missing path, unknown format)."""

    exit_code = 2
