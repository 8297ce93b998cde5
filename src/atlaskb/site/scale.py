"""The matrix's colour scale: readable without colour, and by colour-blind readers.

Colours are stops of viridis, a sequential scale whose lightness rises steadily, so the
order survives red-green colour blindness and greyscale printing; every cell also carries
its value as text (a count, or covered / partial / gap) and the legend names each bin, so
colour is never the only signal. Text colour per bin is fixed for contrast ≥ 4.5:1.
"""

from __future__ import annotations

from atlaskb.linkstatus import STATUS_COLOURS

# (css class, label, background, text colour): lighter = fewer mitigations.
MITIGATION_BINS = [
    ("m0", "No mitigation", "#fde725", "#1a1a1a"),
    ("m1", "1 mitigation", "#a0da39", "#1a1a1a"),
    ("m2", "2 mitigations", "#4ac16d", "#1a1a1a"),
    ("m3", "3–4 mitigations", "#277f8e", "#ffffff"),
    ("m5", "5 or more", "#46327e", "#ffffff"),
]

COVERAGE_BINS = [
    ("gap", "Gap: no mitigation you have", "#fde725", "#1a1a1a"),
    ("partial", "Partial: some sub-techniques covered", "#4ac16d", "#1a1a1a"),
    ("covered", "Covered by a mitigation you have", "#365c8d", "#ffffff"),
]


# What each bin shows inside a legend swatch (the same text the cells carry).
SHORT_LABELS = {"m0": "0", "m1": "1", "m2": "2", "m3": "3–4", "m5": "5+", "gap": "gap", "partial": "◐", "covered": "✓"}


def mitigation_cells(counts: dict[str, int]) -> dict[str, dict]:
    """technique -> {cls, short, long}: the matrix cell for a mitigation count."""
    return {t: {"cls": mitigation_bin(n), "short": str(n), "long": f"{n} mitigation{'s' if n != 1 else ''}"}
            for t, n in counts.items()}


def mitigation_bin(count: int) -> str:
    if count <= 0:
        return "m0"
    if count == 1:
        return "m1"
    if count == 2:
        return "m2"
    if count <= 4:
        return "m3"
    return "m5"


def css() -> str:
    """The bins as CSS rules (written into the site's stylesheet at build time, so the
    palette lives in one place)."""
    rules = []
    for cls, _label, bg, fg in MITIGATION_BINS + COVERAGE_BINS:
        rules.append(f".heat-{cls}{{background:{bg};color:{fg}}}")
        rules.append(f".heat-{cls} a{{color:{fg}}}")
    # evidence statuses (atlaskb.linkstatus); black text reads on each (contrast >= 5:1)
    for status, bg in STATUS_COLOURS.items():
        rules.append(f".status-{status.replace(' ', '-')}{{background:{bg};color:#000000}}")
    return "\n".join(rules) + "\n"
