"""click parameter types for paths the user types: a name the file system cannot take is
a usage error, not a traceback (click.Path stats the name first, and a lone surrogate
makes that raise UnicodeEncodeError), and an output path follows `fsutil`'s rule."""

from __future__ import annotations

import os

import click


class SafePath(click.Path):
    """click.Path that refuses, with a usage message, a name that cannot be encoded."""

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            try:
                os.fsencode(value)
            except UnicodeError:
                from atlaskb.fsutil import shown

                self.fail(f"{shown(value)} is not a valid file name (a lone surrogate)", param, ctx)
        return super().convert(value, param, ctx)


class OutPath(SafePath):
    """A `--out`: also not empty (it is not the current folder) and not below a file,
    checked by `fsutil.check_out_path` before anything runs."""

    def convert(self, value, param, ctx):
        from atlaskb.errors import UsageError
        from atlaskb.fsutil import check_out_path

        if isinstance(value, str):
            try:
                check_out_path(value)
            except UsageError as e:
                self.fail(str(e), param, ctx)
        return super().convert(value, param, ctx)
