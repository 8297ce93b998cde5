"""Where the bundled data and templates live, in a wheel and in a source checkout.

The wheel carries them inside the package (`atlaskb/_bundled/`); a source checkout or an
editable install uses the repository's own `data/` and `templates/`.
"""

from __future__ import annotations

import os

_PKG = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_PKG))


def _find(name: str) -> str:
    for base in (os.path.join(_PKG, "_bundled"), _REPO):
        candidate = os.path.join(base, name)
        if os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(f"atlaskb's bundled {name}/ folder is missing from this installation")


def data_dir() -> str:
    return _find("data")


def templates_dir() -> str:
    return _find("templates")


def bundled_vault() -> str:
    """The bundled ATLAS vault folder."""
    return os.path.join(data_dir(), "atlas")
