"""The `atlaskb` command: a thin click layer over the library.

Subcommands live in their own modules and are imported only when invoked (`LazyGroup`),
so a one-shot query does not pay for the site renderer, numpy or the defenses.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from atlaskb import __version__

# command name -> "module:attribute"; each module owns its commands.
COMMANDS = {
    "export": "atlaskb.cli.export:export",
    "import": "atlaskb.cli.importer:import_",
    "lint": "atlaskb.cli.lint:lint",
    "show": "atlaskb.cli.query:show",
    "mitigations": "atlaskb.cli.query:mitigations",
    "techniques": "atlaskb.cli.query:techniques",
    "tactics": "atlaskb.cli.query:tactics",
    "matrix": "atlaskb.cli.query:matrix",
    "search": "atlaskb.cli.query:search",
    "case-studies": "atlaskb.cli.query:case_studies",
    "path": "atlaskb.cli.query:path",
    "coverage": "atlaskb.cli.coverage:coverage",
    "recommend": "atlaskb.cli.coverage:recommend",
    "diff": "atlaskb.cli.diff:diff",
    "site": "atlaskb.cli.site:site",
    "defend": "atlaskb.cli.defend:defend",
    "release": "atlaskb.cli.release:release",
}


class ReaderLeft(Exception):
    """stdout was closed by its reader (`atlaskb lint | head -1`). Not an OSError, so
    that click does not turn it into exit status 1 on the way out."""


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise ReaderLeft() from None

    def resolve_command(self, ctx, args):
        """As click's, but a mistyped name is matched against the lazy commands too
        (click only knows the eagerly added ones), so `serch` gets "did you mean"."""
        name = args[0] if args else ""
        if (name and not name.startswith("-") and not ctx.resilient_parsing
                and self.get_command(ctx, name) is None):
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx, name):
        if name in COMMANDS:
            module_name, attr = COMMANDS[name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, name)


def warn_load_problems(findings, label: str | None = None) -> None:
    """One line on stderr when loading met errors: how many, and how to see them. `label`
    names which sources, for commands that load more than one set (`diff`)."""
    if not findings:
        return
    from atlaskb.lint import error_count

    errors = error_count(findings)
    if not errors:
        return
    if label is None:
        click.echo(f"atlaskb: {errors} problem(s) while loading; run `atlaskb lint` for details", err=True)
    else:
        click.echo(f"atlaskb: {errors} problem(s) while loading the {label} source(s); "
                   "run `atlaskb --source ... lint` for details", err=True)


def comma_list(values) -> list[str]:
    """A repeatable option's values, each also comma-separated (`--have A,B --have C`), as
    one list in the order given; blanks dropped."""
    return [x.strip() for chunk in values for x in chunk.split(",") if x.strip()]


class AppContext:
    """What every command shares: the sources asked for and the loaded knowledge base."""

    def __init__(self, sources: tuple[str, ...], fmt: str | None, no_color: bool):
        self.sources = sources
        self.format = fmt
        self.no_color = no_color or bool(os.environ.get("NO_COLOR"))
        self._kb = None

    @property
    def kb(self):
        """The knowledge base, loaded once on first use from --source (or the bundled vault)."""
        if self._kb is None:
            from atlaskb import load

            self._kb = load(*self.sources)
            warn_load_problems(self._kb.findings)
        return self._kb

    def fmt(self, local: str | None, default: str = "table") -> str:
        """The output format: the command's own --format, else the global one, else default.
        A global `text` (lint's word for it) means `table` to the query commands."""
        chosen = local or self.format or default
        if chosen == "text" and default != "text":
            return "table"
        return chosen


pass_app = click.make_pass_decorator(AppContext)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="PATH",
    help="Vault folder, page file, ATLAS.yaml release or STIX bundle; repeat to overlay. "
    "Default: the bundled ATLAS vault.",
)
@click.option("--format", "fmt", default=None,
              type=click.Choice(["table", "json", "csv", "yaml", "text"], case_sensitive=False), metavar="FORMAT",
              help="Default output format of the commands: table, json, csv or yaml (lint: text or json).")
@click.option("--no-color", is_flag=True, help="Plain output without colours.")
@click.version_option(__version__, prog_name="atlaskb")
@click.pass_context
def cli(ctx, sources, fmt, no_color):
    """Query, check and render MITRE ATLAS, and run its reference defenses."""
    ctx.obj = AppContext(sources, fmt, no_color)


def _reader_left() -> None:
    """stdout's reader went away (`| head`): stop quietly with success. stdout is pointed
    at /dev/null so that the interpreter's last flush cannot complain either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # no real file descriptor (a test's captured stdout): nothing to flush
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns AtlasError into a message and exit code, and hides tracebacks
    unless ATLASKB_DEBUG is set."""
    from atlaskb.errors import AtlasError

    for stream in (sys.stdout, sys.stderr):
        # A file name or argument with bytes that are not UTF-8 reaches us as lone
        # surrogates; echoing one must print U+FFFD/?, not fail with UnicodeEncodeError.
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):
            pass
    try:
        rv = cli.main(args=argv, prog_name="atlaskb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except AtlasError as e:
        from atlaskb.fsutil import shown

        click.echo(f"atlaskb: {shown(str(e))}", err=True)  # a file name may hold undecodable bytes
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except (BrokenPipeError, ReaderLeft):
        _reader_left()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - last line of defence against tracebacks
        if os.environ.get("ATLASKB_DEBUG"):
            raise
        click.echo(f"atlaskb: internal error: {type(e).__name__}: {e}", err=True)
        click.echo("Set ATLASKB_DEBUG=1 to see the traceback.", err=True)
        sys.exit(3)
    # standalone_mode=False makes click return ctx.exit()'s code instead of exiting.
    sys.exit(rv if isinstance(rv, int) else 0)
