"""The matrix's colour scales: readable without colour, and by colour-blind readers.

Mitigation counts use stops of viridis, a sequential scale whose lightness rises
steadily, so the order survives red-green colour blindness and greyscale printing.
Coverage uses blue against orange (the pair colour-blind readers of every common kind
tell apart) with a large step in lightness: covered cells dark blue, partly covered ones
light blue with a hatch, gaps pale orange with a dark orange edge, so a sparse coverage
is not a wall of one colour. Evidence statuses use the colours `atlaskb.linkstatus` gives them.
Every cell also carries its value as text (a count, ✓ / a percentage / gap, a status
word) and the legend names each bin, so colour is never the only signal. Text colour per
bin is fixed for contrast ≥ 4.5:1.
"""

from __future__ import annotations

from atlaskb import linkstatus

# (css class, label, background, text colour): lighter = fewer mitigations.
MITIGATION_BINS = [
    ("m0", "No mitigation", "#fde725", "#1a1a1a"),
    ("m1", "1 mitigation", "#a0da39", "#1a1a1a"),
    ("m2", "2 mitigations", "#4ac16d", "#1a1a1a"),
    ("m3", "3–4 mitigations", "#277f8e", "#ffffff"),
    ("m5", "5 or more", "#46327e", "#ffffff"),
]

COVERAGE_BINS = [
    ("gap", "Gap: no mitigation you have", "#fde9d6", "#3d1f00"),
    ("partial", "Partly covered: strength below 1", "#9ecae1", "#0b2545"),
    ("covered", "Covered by a mitigation you have", "#1f4e8c", "#ffffff"),
]

# Evidence statuses of the covering links (the toggle on the matrix page): the statuses
# of `atlaskb.linkstatus` in its colours (the Okabe–Ito palette the Navigator layer of
# evidence uses too), with dark text, and one more: a link whose results carry no paired
# verdict (files from before verdicts) is "measured", and no status can be read from it.
MEASURED = "measured"
EVIDENCE_BEST_FIRST = linkstatus.BEST_FIRST[:2] + (MEASURED,) + linkstatus.BEST_FIRST[2:]
EVIDENCE_COLOURS = {**linkstatus.STATUS_COLOURS, MEASURED: "#56B4E9"}
EVIDENCE_TEXT = "#1a1a1a"
EVIDENCE_SHORT = {linkstatus.SUPPORTED: "helps", linkstatus.IN_PART: "mixed", MEASURED: "measured",
                  linkstatus.NOT_SUPPORTED: "no diff.", linkstatus.CONTRADICTED: "worse",
                  linkstatus.NOT_MEASURED_HERE: "claim", linkstatus.UNMEASURED: "claim"}
EVIDENCE_LABELS = {
    linkstatus.SUPPORTED: "Supported: measured to help",
    linkstatus.IN_PART: "Measured only in part: results point different ways",
    MEASURED: "Measured, without a paired verdict",
    linkstatus.NOT_MEASURED_HERE: "Not measured here: no experiment here can measure it",
    linkstatus.UNMEASURED: "Unmeasured: ATLAS's claim only",
    linkstatus.NOT_SUPPORTED: "Not supported: no clear difference measured",
    linkstatus.CONTRADICTED: "Contradicted: measured to make things worse",
}


def evidence_class(status: str) -> str:
    return "ev-" + status.replace(" ", "-")


# What each bin shows inside a legend swatch (the same text the cells carry).
SHORT_LABELS = {"m0": "0", "m1": "1", "m2": "2", "m3": "3–4", "m5": "5+", "gap": "gap", "partial": "50%", "covered": "✓"}


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
    for status in EVIDENCE_BEST_FIRST:
        cls, bg = evidence_class(status), EVIDENCE_COLOURS[status]
        rules.append(f".heat-{cls}{{background:{bg};color:{EVIDENCE_TEXT}}}")
        rules.append(f".heat-{cls} a{{color:{EVIDENCE_TEXT}}}")
    return "\n".join(rules) + "\n"
