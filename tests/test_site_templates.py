"""`site build --templates DIR`: a user's templates and static files over ours, file by
file, with ours as `default:NAME`; the folder is untrusted (no links out, sandboxed,
escaped), and a broken template is a message naming file and line that leaves the
previous site in place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from site_support import hostile_vault, make_evidence_dir, tree_bytes, write_page

import atlaskb
from atlaskb.site import build_site
from atlaskb.site.templates import MAX_TEMPLATE_BYTES, TemplateFailure
from conftest import run_cli, run_cli_process


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    """A four-object vault: every page kind, built in a fraction of a second."""
    return atlaskb.load(str(hostile_vault(tmp_path_factory.mktemp("vault"))))


@pytest.fixture
def user(tmp_path) -> Path:
    folder = tmp_path / "mine"
    folder.mkdir()
    return folder


def build(kb, out: Path, templates: Path | None):
    return build_site(kb, str(out), templates=None if templates is None else str(templates))


def failure(kb, out: Path, templates: Path) -> str:
    with pytest.raises(TemplateFailure) as e:
        build(kb, out, templates)
    return str(e.value)


# -- overriding -------------------------------------------------------------------------------

def test_an_empty_folder_changes_nothing(tmp_path, small_kb, user):
    """The sandbox and the loaders render our templates exactly as the plain build does."""
    build(small_kb, tmp_path / "ours", None)
    build(small_kb, tmp_path / "with", user)
    assert tree_bytes(tmp_path / "ours") == tree_bytes(tmp_path / "with")
    write_page(user, "base.html", '{% extends "default:base.html" %}{% block footer %}mine{% endblock %}')
    build(small_kb, tmp_path / "with", user)
    build(small_kb, tmp_path / "again", None)  # our compiled templates are not touched by a user's
    assert tree_bytes(tmp_path / "ours") == tree_bytes(tmp_path / "again")


def test_every_page_kind_renders_the_same_in_the_sandbox(tmp_path, bundled_kb, user):
    """Coverage and evidence pages too: our templates use nothing the sandbox refuses."""
    evidence = str(make_evidence_dir(tmp_path / "ev"))
    for name, templates in (("ours", None), ("sandboxed", str(user))):
        build_site(bundled_kb, str(tmp_path / name), have=["AML.M0006"], evidence_dir=evidence, templates=templates)
    assert tree_bytes(tmp_path / "ours") == tree_bytes(tmp_path / "sandboxed")
    assert (tmp_path / "sandboxed" / "coverage.html").is_file() and (tmp_path / "sandboxed" / "evidence" / "index.html").is_file()


def test_hidden_files_are_left_out(tmp_path, small_kb, user):
    os.symlink("user@host.1234", user / ".#base.html")  # an editor's lock file: a dangling link
    write_page(user, ".git/config.html", "{% broken")
    write_page(user, "static/.DS_Store", "junk")
    build(small_kb, tmp_path / "site", user)
    assert not (tmp_path / "site" / "static" / ".DS_Store").exists()


def test_a_base_extending_default_base_changes_every_page(tmp_path, small_kb, user):
    write_page(user, "base.html", '{% extends "default:base.html" %}\n'
                                  '{% block head %}<link rel="stylesheet" href="{{ root }}static/mine.css">{% endblock %}\n'
                                  '{% block footer %}<footer>Our team\'s copy</footer>{% endblock %}\n')
    build(small_kb, tmp_path / "site", user)
    pages = list((tmp_path / "site").rglob("*.html"))
    assert len(pages) > 8
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "static/mine.css" in html and "Our team&#39;s copy" not in html and "Our team's copy" in html
        assert "MITRE ATLAS™ is a trademark" not in html  # our footer replaced
        assert "<main id=\"main\"" in html  # the rest of our layout kept


def test_a_page_template_replaces_ours_and_the_others_stay(tmp_path, small_kb, user):
    write_page(user, "tactic.html", '{% extends "base.html" %}{% block title %}{{ obj.id }}{% endblock %}'
                                    '{% block main %}<p id="mine">{{ obj.name }}</p>{% endblock %}\n')
    build(small_kb, tmp_path / "ours", None)
    build(small_kb, tmp_path / "site", user)
    tactic = (tmp_path / "site" / "tactics" / "AML.TA0900.html").read_text(encoding="utf-8")
    assert '<p id="mine">' in tactic
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tactic and "<script>alert(1)" not in tactic  # escaped
    technique = "techniques/AML.T0900.html"
    assert (tmp_path / "site" / technique).read_bytes() == (tmp_path / "ours" / technique).read_bytes()


def test_a_partial_can_be_overridden_and_ours_called_from_it(tmp_path, small_kb, user):
    write_page(user, "_coverage_panel.html", '<!-- mine -->{% include "default:_coverage_panel.html" %}')
    build(small_kb, tmp_path / "site", user)
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "<!-- mine -->" in html and 'id="cov-panel"' in html


def test_static_files_override_ours_and_add_new_ones(tmp_path, small_kb, user):
    write_page(user, "static/style.css", "body { color: teal }\n")
    write_page(user, "static/img/logo.svg", "<svg/>")
    write_page(user, "static/palette.css", "/* not used */")
    build(small_kb, tmp_path / "ours", None)
    build(small_kb, tmp_path / "site", user)
    static = tmp_path / "site" / "static"
    assert (static / "style.css").read_text() == "body { color: teal }\n"
    assert (static / "img" / "logo.svg").read_text() == "<svg/>"
    assert (static / "palette.css").read_bytes() == (tmp_path / "ours" / "static" / "palette.css").read_bytes()
    assert (static / "site.js").read_bytes() == (tmp_path / "ours" / "static" / "site.js").read_bytes()


def test_links_inside_the_folder_are_followed(tmp_path, small_kb, user):
    write_page(user, "parts/footer.html", "<footer>linked</footer>")
    os.symlink("parts/footer.html", user / "footer.html")
    write_page(user, "base.html", '{% extends "default:base.html" %}{% block footer %}{% include "footer.html" %}{% endblock %}')
    build(small_kb, tmp_path / "site", user)
    assert "<footer>linked</footer>" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_the_site_is_not_written_into_the_templates_folder(tmp_path, small_kb, user):
    from atlaskb.errors import UsageError

    with pytest.raises(UsageError, match="inside the templates folder"):
        build(small_kb, user / "site", user)
    assert sorted(os.listdir(user)) == []


def test_the_user_folder_is_not_written(tmp_path, small_kb, user):
    write_page(user, "base.html", '{% extends "default:base.html" %}')
    write_page(user, "static/style.css", "body{}")
    before = tree_bytes(user)
    build(small_kb, tmp_path / "site", user)
    assert tree_bytes(user) == before


# -- untrusted folder ---------------------------------------------------------------------------

def test_a_template_linking_outside_the_folder_is_refused(tmp_path, small_kb, user):
    secret = tmp_path / "secret.html"
    secret.write_text("SECRET", encoding="utf-8")
    os.symlink(secret, user / "base.html")
    message = failure(small_kb, tmp_path / "site", user)
    assert f"{user / 'base.html'}: a link to {secret}" in message and "outside the templates folder" in message


def test_a_folder_link_leading_outside_is_refused_for_included_templates(tmp_path, small_kb, user):
    outside = tmp_path / "elsewhere"
    write_page(outside, "x.html", "SECRET")
    os.symlink(outside, user / "parts")
    write_page(user, "base.html", '{% extends "default:base.html" %}{% block footer %}{% include "parts/x.html" %}{% endblock %}')
    message = failure(small_kb, tmp_path / "site", user)
    assert "parts/x.html: a link to" in message and "refused" in message


@pytest.mark.parametrize("name", ["../secret.html", "default:../../secret.html", "/etc/passwd"])
def test_names_that_climb_out_find_nothing(tmp_path, small_kb, user, name):
    (tmp_path / "secret.html").write_text("SECRET", encoding="utf-8")
    write_page(user, "base.html", '{% extends "default:base.html" %}\n{% block footer %}\n'
                                  f'{{% include "{name}" %}}\n{{% endblock %}}\n')
    message = failure(small_kb, tmp_path / "site", user)
    assert message.startswith(f"{user / 'base.html'}:3: no such template:")


def test_static_links_outside_and_folder_links_are_refused(tmp_path, small_kb, user):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET", encoding="utf-8")
    (user / "static").mkdir()
    os.symlink(secret, user / "static" / "leak.txt")
    assert "static/leak.txt: a link to" in failure(small_kb, tmp_path / "site", user)
    os.unlink(user / "static" / "leak.txt")
    os.symlink(tmp_path, user / "static" / "all")
    assert "static/all: a link to a folder; refused" in failure(small_kb, tmp_path / "site", user)


def test_special_big_and_binary_files_are_refused(tmp_path, small_kb, user):
    os.mkfifo(user / "base.html")  # must not wait for a writer
    assert "base.html: not a regular file" in failure(small_kb, tmp_path / "site", user)
    os.unlink(user / "base.html")
    (user / "base.html").write_bytes(b"x" * (MAX_TEMPLATE_BYTES + 1))
    assert "base.html: larger than 1 MB" in failure(small_kb, tmp_path / "site", user)
    (user / "base.html").write_bytes(b"\xff\xfe{{ x }}")
    assert "base.html: not UTF-8 text" in failure(small_kb, tmp_path / "site", user)


def test_templates_run_sandboxed(tmp_path, small_kb, user):
    write_page(user, "other_object.html", "x")
    write_page(user, "base.html", '{% extends "default:base.html" %}{% block footer %}\n'
                                  "{{ model.__class__.__mro__ }}{% endblock %}")
    message = failure(small_kb, tmp_path / "site", user)
    assert message.startswith(f"{user / 'base.html'}:2: not allowed:") and "__class__" in message


# -- broken templates ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, line, says", [
    ("{{ oops( }}", 3, "syntax error: unexpected '}'"),
    ("{{ no_such_name.attr }}", 3, "undefined: 'no_such_name' is undefined"),
    ('{% include "missing.html" %}', 3, "no such template: 'missing.html'"),
    ("{{ 1 / 0 }}", 3, "ZeroDivisionError: division by zero"),
])
def test_errors_name_the_file_and_line(tmp_path, small_kb, user, body, line, says):
    write_page(user, "base.html", '{% extends "default:base.html" %}\n{% block footer %}\n' + body + "\n{% endblock %}\n")
    message = failure(small_kb, tmp_path / "site", user)
    assert message.startswith(f"{user / 'base.html'}:{line}: {says}"), message


def test_an_error_in_our_template_says_so(tmp_path, small_kb, user):
    """A user's partial that lacks what our pages use: the message names our file."""
    write_page(user, "_macros.html", "{% macro nothing() %}{% endmacro %}")
    message = failure(small_kb, tmp_path / "site", user)
    assert "atlaskb's templates/" in message and f"(templates from {user} over atlaskb's)" in message


def test_cli_broken_template_keeps_the_previous_site(tmp_path, user):
    out = tmp_path / "site"
    code, _, err = run_cli("site", "build", "--out", str(out))
    assert code == 0, err
    before = tree_bytes(out)
    write_page(user, "base.html", '{% extends "default:base.html" %}\n{% block footer %}{{ nope }}{% endblock %}\n')
    code, out_text, err = run_cli("site", "build", "--out", str(out), "--templates", str(user))
    assert code == 2 and out_text == ""
    assert err.startswith(f"atlaskb: {user / 'base.html'}:2: undefined: 'nope' is undefined")
    assert tree_bytes(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site.tmp")]


def test_cli_templates_folder_must_exist_and_errors_have_no_traceback(tmp_path, user):
    code, _, err = run_cli("site", "build", "--out", str(tmp_path / "s"), "--templates", str(tmp_path / "none"))
    assert code == 2 and "does not exist" in err
    write_page(user, "home.html", "{% for %}")
    code, _, err = run_cli_process("site", "build", "--out", str(tmp_path / "s"), "--templates", str(user))
    assert code == 2 and "Traceback" not in err
    assert f"{user / 'home.html'}:1: syntax error" in err
    assert not (tmp_path / "s").exists()
