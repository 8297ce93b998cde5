"""The static site: the knowledge base as browsable, self-contained HTML.

`build_site(kb, out_dir, ...)` is the entry point (see `build.py`); `markdown.py` renders
and sanitises untrusted text, `context.py` precomputes every page's relationships,
`search.py` writes the offline index, `evidence_pages.py` and `coverage_page.py` prepare
the measured results and the coverage page from `atlaskb.evidence` and `atlaskb.coverage`,
`scale.py` holds the colour-blind-safe palette, `templates.py` says where templates come
from (ours, or a user's folder over ours).
"""

from atlaskb.site.build import BuildResult, build_site

__all__ = ["BuildResult", "build_site"]
