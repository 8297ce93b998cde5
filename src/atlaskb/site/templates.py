"""Where the site's templates come from: ours (`templates/`), or a user's folder over ours.

`atlaskb site build --templates DIR` renders with DIR's files in front of ours, file by
file: a page template, a partial (`_macros.html`) or a layout (`base.html`) found in DIR
replaces ours of the same name, everything else stays ours. Ours stay reachable as
``default:NAME``, so a user's `base.html` can `{% extends "default:base.html" %}` and
change one block. Files under DIR/static/ are copied over our static files the same way
(`copy_static`); `static/palette.css` is generated from `site.scale` and always ours.

DIR is untrusted input, read and never written:

* only files inside DIR are read: Jinja2 refuses names with ``..``; a name that is, or
  passes through, a symbolic link resolving outside DIR is refused with a message
  naming it; only regular files of bounded size, in UTF-8, are read;
* its templates run in Jinja2's sandbox (no access to Python internals such as
  ``__class__``), with autoescape on as for ours, and undefined names are errors;
* an error in a template (syntax, an undefined name, a missing template) is reported as
  `TemplateFailure`: the file, the line and what went wrong, never a traceback; the build
  stops before the output folder is replaced, so the previous site stays.

Our own templates are compiled once per process (`make_environment()` with no folder);
an Environment for a user's folder is made for each build, since its files may change
between builds.
"""

from __future__ import annotations

import os
import shutil
import stat
import traceback

import jinja2
import jinja2.sandbox
from jinja2.loaders import split_template_path
from markupsafe import Markup, escape

from atlaskb.errors import UsageError
from atlaskb.resources import templates_dir
from atlaskb.site.markdown import safe_url
from atlaskb.site.urls import TYPE_LABELS, TYPE_PLURALS

DEFAULT_PREFIX = "default"  # `default:base.html` is always ours
STATIC = "static"
GENERATED_STATIC = ("palette.css",)  # written by the build after the copy: ours win
MAX_TEMPLATE_BYTES = 1024 * 1024
MAX_STATIC_FILE_BYTES = 20 * 1024 * 1024
MAX_STATIC_FILES = 2000
MAX_STATIC_DEPTH = 16


class TemplateFailure(UsageError):
    """A template that cannot be read or rendered: file, line and the reason."""


def break_after_slashes(text) -> Markup:
    """`text` escaped, with a line-break opportunity after each slash: names such as
    "Search Open Websites/Domains" then wrap at the slash in a narrow matrix cell instead
    of being cut in the middle of a word."""
    return Markup(str(escape(str(text))).replace("/", "/<wbr>"))


_OURS: jinja2.Environment | None = None


def make_environment(user_dir: str | None = None) -> jinja2.Environment:
    """The Environment that renders the site: ours alone, or `user_dir` over ours.

    Ours is kept for the life of the process: compiling the templates costs more than
    rendering the whole bundled site, so a second build (tests, benches, a long-lived
    caller) reuses the compiled ones. `auto_reload` is off because templates do not
    change during a build, and it would stat every template on every page."""
    global _OURS
    if user_dir is None:
        if _OURS is None:
            _OURS = _configure(jinja2.Environment, jinja2.FileSystemLoader(templates_dir()))
        return _OURS
    check_user_dir(user_dir)
    ours = jinja2.FileSystemLoader(templates_dir())
    loader = jinja2.ChoiceLoader([UserTemplateLoader(user_dir),
                                  jinja2.PrefixLoader({DEFAULT_PREFIX: ours}, delimiter=":"), ours])
    env = _configure(jinja2.sandbox.SandboxedEnvironment, loader)
    _compile_user_templates(env, user_dir)
    return env


def _configure(kind, loader) -> jinja2.Environment:
    env = kind(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.globals.update(type_labels=TYPE_LABELS, type_plurals=TYPE_PLURALS)
    env.filters["safe_url"] = safe_url
    env.filters["wbr"] = break_after_slashes
    return env


def check_user_dir(user_dir: str, out_dir: str | None = None) -> None:
    """Refuse a templates folder that is missing, or that would hold the site (`out_dir`):
    the folder is read, never written."""
    if not os.path.isdir(user_dir):
        raise UsageError(f"templates folder {user_dir} does not exist or is not a folder")
    if out_dir is not None and _inside(os.path.realpath(out_dir), os.path.realpath(user_dir)):
        raise UsageError(f"--out {out_dir} is inside the templates folder {user_dir}, which atlaskb only reads; "
                         "write the site elsewhere")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class UserTemplateLoader(jinja2.BaseLoader):
    """A user's template folder: its regular files, never anything a link leads to
    outside it. Names are shown as DIR/NAME, the way the user knows them."""

    def __init__(self, folder: str):
        self.folder = folder
        self.root = os.path.realpath(folder)

    def get_source(self, environment, template):
        pieces = split_template_path(template)  # TemplateNotFound for `..` and the like
        path = os.path.join(self.folder, *pieces)
        if not os.path.lexists(path):
            raise jinja2.TemplateNotFound(template)
        text = read_user_file(path, self.root, MAX_TEMPLATE_BYTES, "template")
        try:
            source = text.decode("utf-8")
        except UnicodeDecodeError:
            raise TemplateFailure(f"{path}: not UTF-8 text; a template must be") from None
        return source, path, lambda: True

    def list_templates(self) -> list[str]:
        """The .html files of the folder, as template names: not under static/, and not
        hidden (an editor's lock file such as `.#base.html` is no template)."""
        found = []
        for base, dirs, files in os.walk(self.folder):
            rel = os.path.relpath(base, self.folder)
            if rel == STATIC:
                dirs[:] = []
                continue
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.endswith(".html") and not name.startswith("."):
                    found.append(name if rel == "." else "/".join(rel.split(os.sep) + [name]))
        return found


def read_user_file(path: str, root: str, limit: int, what: str) -> bytes:
    """The bytes of `path`, a file in the user's folder `root` (a real path): refused,
    with a message naming `path`, when it resolves outside `root`, is not a regular file
    or is larger than `limit`."""
    real = os.path.realpath(path)
    if not _inside(real, root):
        raise TemplateFailure(f"{path}: a link to {real}, outside the templates folder; refused "
                              f"(a {what} must be a file inside the folder)")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise TemplateFailure(f"{path}: not a regular file; refused as a {what}")
            if info.st_size > limit:
                raise TemplateFailure(f"{path}: larger than {limit // (1024 * 1024)} MB; refused as a {what}")
            data = fh.read(limit + 1)
    except OSError as e:
        raise TemplateFailure(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > limit:
        raise TemplateFailure(f"{path}: larger than {limit // (1024 * 1024)} MB; refused as a {what}")
    return data


def _compile_user_templates(env: jinja2.Environment, user_dir: str) -> None:
    """Compile every template of the user's folder now, so that a syntax error or a
    refused link stops the build before any page is written."""
    for name in env.loader.loaders[0].list_templates():  # type: ignore[attr-defined]
        try:
            env.get_template(name)
        except Exception as e:  # noqa: BLE001 - what a template did, reported with its file and line
            raise template_failure(e, user_dir) from None


def template_failure(error: Exception, user_dir: str | None) -> Exception:
    """`error`, raised while compiling or rendering with `user_dir`'s templates over ours,
    as a TemplateFailure naming the template file and line to blame; `error` itself when
    no template is."""
    if isinstance(error, TemplateFailure):
        return error
    where = None
    if isinstance(error, jinja2.TemplateSyntaxError) and error.filename:
        where = f"{error.filename}:{error.lineno}"
    else:
        ours = templates_dir()
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if frame.filename.endswith(".py"):  # atlaskb's or a library's code, not a template
                continue
            if _inside(frame.filename, ours) or (user_dir and _inside(frame.filename, user_dir)):
                where = f"{_shown(frame.filename, ours)}:{frame.lineno}"
                break
    if where is None:
        return error
    kind = {jinja2.TemplateSyntaxError: "syntax error", jinja2.UndefinedError: "undefined",
            jinja2.TemplateNotFound: "no such template", jinja2.sandbox.SecurityError: "not allowed"}
    label = next((v for k, v in kind.items() if isinstance(error, k)), type(error).__name__)
    message = error.message if isinstance(error, jinja2.TemplateError) and error.message else str(error)
    if isinstance(error, jinja2.TemplateNotFound):
        message = repr(error.name)
    suffix = f" (templates from {user_dir} over atlaskb's)" if user_dir else ""
    return TemplateFailure(f"{where}: {label}: {message}{suffix}")


def _shown(filename: str, ours: str) -> str:
    """A template file as the message names it: ours as `atlaskb's templates/NAME`."""
    if _inside(filename, ours):
        return "atlaskb's templates/" + os.path.relpath(filename, ours).replace(os.sep, "/")
    return filename


def copy_static(out: str, user_dir: str | None) -> None:
    """Our `static/` into `out/static/`, then the user's `static/` files over it (each
    read as `read_user_file` reads templates: inside the folder, regular, bounded)."""
    ours = os.path.join(templates_dir(), STATIC)
    target = os.path.join(out, STATIC)
    if os.path.isdir(ours):
        shutil.copytree(ours, target, dirs_exist_ok=True)
    if user_dir is None:
        return
    source = os.path.join(user_dir, STATIC)
    if not os.path.isdir(source):
        return
    root = os.path.realpath(user_dir)
    for rel in _static_files(source, root):
        data = read_user_file(os.path.join(source, rel), root, MAX_STATIC_FILE_BYTES, "static file")
        dest = os.path.join(target, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as fh:
            fh.write(data)


def _static_files(source: str, root: str) -> list[str]:
    """Relative paths of the files under the user's static/ folder, in sorted order,
    leaving out hidden ones (`.DS_Store`, `.git/`) and the generated palette. A folder
    that is a link is refused (its files would be outside what we walk)."""
    if not _inside(os.path.realpath(source), root):
        raise TemplateFailure(f"{source}: a link to {os.path.realpath(source)}, outside the templates folder; refused")
    found: list[str] = []
    for base, dirs, files in os.walk(source):
        rel_base = os.path.relpath(base, source)
        depth = 0 if rel_base == "." else rel_base.count(os.sep) + 1
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for d in dirs:
            if os.path.islink(os.path.join(base, d)):
                raise TemplateFailure(f"{os.path.join(base, d)}: a link to a folder; refused "
                                      "(static files must be files inside the templates folder)")
        if depth >= MAX_STATIC_DEPTH:
            raise TemplateFailure(f"{base}: folders nested more than {MAX_STATIC_DEPTH} deep under static/; refused")
        for name in sorted(files):
            rel = name if rel_base == "." else os.path.join(rel_base, name)
            if name.startswith(".") or (rel == name and name in GENERATED_STATIC):
                continue
            found.append(rel)
            if len(found) > MAX_STATIC_FILES:
                raise TemplateFailure(f"{source}: more than {MAX_STATIC_FILES} files; refused")
    return found
