"""Drawing and writing an outcome map: step cards with their ratings, a heat map of areas, HTML and Markdown.

Every output is byte-identical for the same map (no dates or versions embedded).
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from .. import domain
from ..io import write_csv
from ..rubric import CONFIDENCE, PROGRESS
from .document import OutcomeMap
from .model import Pathway, PathwayStep, describe_value
from .rating import RatedMap

if TYPE_CHECKING:
    from .rating import MapRollup

__all__ = ["PROGRESS_COLOURS", "CONFIDENCE_BORDERS", "plot_map", "plot_rollup", "new_figure", "map_html",
           "map_markdown", "save_figure", "render_files"]

#: Fill per progress rating (traffic light) and text colour that reads on it.
PROGRESS_COLOURS: dict[str, tuple[str, str]] = {
    "good": ("#4caf50", "black"),
    "some": ("#ffc107", "black"),
    "low": ("#ff8a3d", "black"),
    "no": ("#d32f2f", "white"),
    "n/a": ("#e6e6e6", "black"),
}
#: Border per confidence rating: (line style, width, colour).
CONFIDENCE_BORDERS: dict[str, tuple[Literal["solid", "dashed", "dotted"], float, str]] = {
    "high": ("solid", 2.6, "#1a1a1a"),
    "medium": ("dashed", 1.8, "#1a1a1a"),
    "low": ("dotted", 1.6, "#1a1a1a"),
    "n/a": ("solid", 0.7, "#9e9e9e"),
}
_SAVE_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


def _resolve_pathway(omap: OutcomeMap, pathway) -> tuple[int, Pathway] | None:
    if pathway is None:
        return None
    if isinstance(pathway, (int, np.integer)) and not isinstance(pathway, bool):
        if not 0 <= pathway < len(omap.pathways):
            raise IndexError(f"pathway index {pathway} out of range (the map has {len(omap.pathways)})")
        return int(pathway), omap.pathways[int(pathway)]
    p = omap.pathway(pathway)
    return omap.pathways.index(p), p


def _badge(ps: PathwayStep) -> str:
    prog, conf, basis = ps.rating
    extra = {"override": " | manual override", "evidence": " | from data"}.get(basis, "")
    return f"Progress: {prog} | Confidence: {conf}{extra}"


def _map_card(omap: OutcomeMap, column: str, text: str, ratings: bool) -> dict:
    """A step's card on the whole map: the pathways it is on and, with ``ratings``, their ratings."""
    on = [(i, q) for i, p in enumerate(omap.pathways) for q in p.steps.get(column, []) if q.step == text]
    plain = {"text": text, "face": "#ffffff", "fg": "black", "border": ("solid", 0.8, "#616161")}
    if not on:
        return {**plain, "badge": "No pathway"}
    nums = ", ".join(str(i + 1) for i, _ in on)
    if not ratings:
        return {**plain, "badge": f"Pathways: {nums}"}
    rated = {q.rating[:2] for _, q in on}
    if len(rated) == 1:
        prog, conf = next(iter(rated))
        face, fg = PROGRESS_COLOURS[prog]
        return {"text": text, "face": face, "fg": fg, "border": CONFIDENCE_BORDERS[conf],
                "badge": f"Pathways: {nums} | {_badge(on[0][1])}"}
    each = "; ".join(f"pathway {i + 1}: progress {q.rating[0]}, confidence {q.rating[1]}" for i, q in on)
    return {**plain, "badge": each}


def new_figure(figsize: tuple[float, float], pyplot: bool = False):
    """A new Figure: a bare one (files and reports: nothing is kept in pyplot's list of figures) or, with
    ``pyplot``, one made by pyplot, which a notebook's inline backend shows once."""
    if pyplot:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def plot_map(omap: OutcomeMap, pathway=None, ax=None, wrap: int = 30, fontsize: float = 7.5, ratings: bool = True,
             pyplot: bool = False):
    """Draw the map (``pathway=None``) or one pathway (name or index) as six columns of step cards.

    Each card is filled by its progress (traffic light: good green, some amber, low orange, no red,
    n/a grey) and its border shows confidence (high: thick solid, medium: dashed, low: dotted, n/a:
    thin grey); the card's last line spells both out, so the ratings are not told by colour alone.
    On the whole map each card also lists the pathways it is on; a step rated differently on two
    pathways is left white and its last line gives each pathway's ratings. ``ratings=False`` draws
    the whole map without ratings. A rated map names the area and year it is rated for. Without ``ax``
    the figure is sized to the map, made by pyplot when ``pyplot`` (see :func:`new_figure`).

    Returns
    -------
    matplotlib.figure.Figure
        (:meth:`OutcomeMap.plot` returns its Axes.)
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    chosen = _resolve_pathway(omap, pathway)
    ncol = len(omap.columns)
    cards: dict[str, list[dict]] = {}
    for c in omap.columns:
        cards[c] = []
        if chosen is None:
            for s in omap.steps.get(c, []):
                cards[c].append(_map_card(omap, c, s.text, ratings))
        else:
            p = chosen[1]
            if p.summaries.get(c):
                cards[c].append({"text": p.summaries[c], "badge": "Summary", "face": "#f3f3f3", "fg": "#333333",
                                 "border": ("solid", 0.5, "#bdbdbd"), "italic": True})
            for ps in p.steps.get(c, []):
                prog, conf, _ = ps.rating
                face, fg = PROGRESS_COLOURS[prog]
                cards[c].append({"text": ps.step, "badge": _badge(ps), "face": face, "fg": fg,
                                 "border": CONFIDENCE_BORDERS[conf]})
    # layout in "line" units: one unit = one line of text
    pad, gap = 0.8, 0.5
    heights = {}
    for c in omap.columns:
        y = len(textwrap.wrap(c, wrap)) + pad + gap
        for card in cards[c]:
            card["lines"] = textwrap.wrap(card["text"], wrap) or [""]
            card["badge_lines"] = textwrap.wrap(card["badge"], int(wrap * 1.15)) or [""]
            card["h"] = len(card["lines"]) + 0.9 * len(card["badge_lines"]) + pad
            y += card["h"] + gap
        heights[c] = y
    if chosen is None:
        title2 = "Outcome map" + omap.where()
        notes = [f"Pathway {i + 1}: {p.name}" for i, p in enumerate(omap.pathways)]
    else:
        i, p = chosen
        title2 = f"Pathway {i + 1}: {p.name}" + omap.where()
        notes = []
    head_lines = textwrap.wrap(title2, int(wrap * ncol * 0.8))
    note_lines = [ln for n in notes for ln in textwrap.wrap(n, int(wrap * ncol * 1.1))]
    top = 2.2 + 1.4 * len(head_lines) + len(note_lines) + 0.6
    legend = chosen is not None or (ratings and bool(omap.pathways))
    legend_h = 4.0 if legend else 0.0
    body = max(heights.values()) if heights else 1.0
    unit_in = 1.3 * fontsize / 72
    col_in = wrap * fontsize * 0.58 / 72 + 0.35
    if ax is None:
        fig = new_figure((ncol * col_in + 0.3, (top + body + legend_h) * unit_in + 0.2), pyplot)
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        fig = ax.figure
    ax.set_xlim(-0.04, ncol + 0.04)
    ax.set_ylim(top + body + legend_h, -0.2)
    ax.set_axis_off()
    ax.text(0.01, 0.3, omap.title, fontsize=fontsize + 4, fontweight="bold", va="top", ha="left")
    y = 2.2
    for ln in head_lines:
        ax.text(0.01, y, ln, fontsize=fontsize + 2.5, va="top", ha="left")
        y += 1.4
    for ln in note_lines:
        ax.text(0.01, y, ln, fontsize=fontsize, va="top", ha="left", color="#333333")
        y += 1
    w = 0.94
    for j, c in enumerate(omap.columns):
        x0 = j + 0.03
        y = top
        hl = textwrap.wrap(c, wrap)
        ax.add_patch(Rectangle((x0, y), w, len(hl) + pad, facecolor="#263238", edgecolor="none"))
        ax.text(x0 + 0.03, y + pad / 2, "\n".join(hl), color="white", fontsize=fontsize + 0.5, fontweight="bold",
                va="top", ha="left", linespacing=1.15)
        y += len(hl) + pad + gap
        for card in cards[c]:
            ls, lw, ec = card["border"]
            ax.add_patch(Rectangle((x0, y), w, card["h"], facecolor=card["face"], edgecolor=ec, linestyle=ls,
                                   linewidth=lw))
            ax.text(x0 + 0.03, y + pad / 2, "\n".join(card["lines"]), color=card["fg"], fontsize=fontsize,
                    va="top", ha="left", linespacing=1.15, fontstyle="italic" if card.get("italic") else "normal")
            ax.text(x0 + 0.03, y + pad / 2 + len(card["lines"]) + 0.1, "\n".join(card["badge_lines"]),
                    color=card["fg"], fontsize=fontsize - 1, fontweight="bold", va="top", ha="left",
                    linespacing=1.1)
            y += card["h"] + gap
    if legend:
        handles: list = [Patch(facecolor=PROGRESS_COLOURS[k][0], edgecolor="#616161", label=f"Progress: {k}")
                         for k in PROGRESS]
        handles += [Line2D([], [], linestyle=CONFIDENCE_BORDERS[k][0], linewidth=CONFIDENCE_BORDERS[k][1],
                           color=CONFIDENCE_BORDERS[k][2], label=f"Confidence: {k}") for k in CONFIDENCE]
        ax.legend(handles=handles, loc="lower center", ncol=5, fontsize=fontsize, frameon=False,
                  handlelength=3, bbox_to_anchor=(0.5, 0.0))
    return fig


def plot_rollup(r: MapRollup, pathway=None, ax=None, pyplot: bool = False):
    """Heat map of progress by pathway step (rows) and area (columns), with confidence initials.

    Returns the ``Figure`` (made by pyplot when ``pyplot`` and no ``ax``; :meth:`MapRollup.plot` returns its Axes).
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    prog = r.table("progress", pathway)
    conf = r.table("confidence", pathway)
    codes = prog.apply(lambda s: s.map(PROGRESS.index)).to_numpy(dtype=float)
    nrow, ncol = codes.shape
    labels = [textwrap.shorten(f"{p[:22]} | {c[:14]} | {s}", 70, placeholder="...") for p, c, s in prog.index]
    if ax is None:
        fig = new_figure((4.5 + 0.38 * ncol, 1.8 + 0.22 * nrow), pyplot)
        ax = fig.add_axes((0.42, 0.16, 0.56, 0.76)) if ncol > 1 else fig.add_subplot()
    else:
        fig = ax.figure
    cmap = ListedColormap([PROGRESS_COLOURS[k][0] for k in PROGRESS])
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=len(PROGRESS) - 0.5, aspect="auto", interpolation="nearest")
    initials = {"high": "H", "medium": "M", "low": "L", "n/a": ""}
    for i in range(nrow):
        for j in range(ncol):
            ax.text(j, i, initials.get(conf.iat[i, j], ""), ha="center", va="center", fontsize=6,
                    color=PROGRESS_COLOURS[prog.iat[i, j]][1] if isinstance(prog.iat[i, j], str) else "black")
    ax.set_xticks(range(ncol), list(prog.columns), rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(nrow), labels, fontsize=6)
    title = "Progress by area" + (f": {pathway}" if pathway else "") + " (letters: confidence H/M/L)"
    ax.set_title(title, fontsize=9)
    ax.legend(handles=[Patch(facecolor=PROGRESS_COLOURS[k][0], label=k) for k in PROGRESS], ncol=5, fontsize=6,
              loc="upper center", bbox_to_anchor=(0.5, -0.02 - 1.2 / max(nrow, 1)), frameon=False)
    return fig


def _cls(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "x"


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;font-size:14px;color:#1a1a1a;margin:1.5em}
table.omap{border-collapse:collapse;width:100%;table-layout:fixed;margin-bottom:1.5em}
table.omap th{background:#263238;color:#fff;text-align:left;padding:6px;vertical-align:top}
table.omap td{border:1px solid #ccc;padding:6px;vertical-align:top}
td.summary{background:#f3f3f3;font-style:italic}
div.step{margin:0 0 8px 0;padding:6px;border-radius:3px}
div.step p{margin:0 0 4px 0}
.progress-good{background:#4caf50}.progress-some{background:#ffc107}.progress-low{background:#ff8a3d}
.progress-no{background:#d32f2f;color:#fff}.progress-n-a{background:#e6e6e6}
.confidence-high{border:3px solid #1a1a1a}.confidence-medium{border:2px dashed #1a1a1a}
.confidence-low{border:2px dotted #1a1a1a}.confidence-n-a{border:1px solid #9e9e9e}
p.rating{font-weight:bold;font-size:12px}
details{font-size:12px}
.empty{color:#777}
"""


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _step_details_html(ps: PathwayStep) -> str:
    parts = []
    _, _, basis = ps.rating
    if ps.reason:
        parts.append(f"<p><b>Reason for manual rating:</b> {_esc(ps.reason)}</p>")
    if ps.computed is not None:
        found = "".join(f"<li>{_esc(describe_value(v))}: progress {_esc(r[0])}, confidence {_esc(r[1])}</li>"
                        for v, r in zip(ps.computed.values, ps.computed.ratings))
        parts.append(f"<p><b>Indicators</b></p><ul>{found}</ul>")
    if ps.analysis:
        parts.append(f"<p><b>Analysis:</b> {_esc(ps.analysis)}</p>")
    if ps.evidence:
        items = []
        for e in ps.evidence:
            where = ""
            if e.link:
                where = f' (<a href="{_esc(e.link)}">{_esc(e.link)}</a>)'
            elif e.file:
                where = f" (file: {_esc(e.file)})"
            items.append(f"<li>{_esc(e.source)}: {_esc(e.description)}{where}"
                         + (f", {_esc(e.date)}" if e.date else "") + "</li>")
        parts.append(f"<p><b>Evidence</b></p><ul>{''.join(items)}</ul>")
    for k in ("assumptions", "risks"):
        vals = getattr(ps, k)
        if vals:
            parts.append(f"<p><b>{k.capitalize()}</b></p><ul>{''.join(f'<li>{_esc(v)}</li>' for v in vals)}</ul>")
    if not parts:
        return ""
    return f"<details><summary>Case ({_esc(basis)})</summary>{''.join(parts)}</details>"


def map_html(omap: OutcomeMap, full_document: bool = True) -> str:
    out = []
    title = omap.title + omap.where()
    out.append(f"<h1>{_esc(title)}</h1>")
    if omap.description:
        out.append(f"<p>{_esc(omap.description)}</p>")
    if omap.source:
        out.append(f'<p class="source">Source: {_esc(omap.source)}</p>')
    head = "<thead><tr>" + "".join(f"<th>{_esc(c)}</th>" for c in omap.columns) + "</tr></thead>"
    out.append("<h2>Outcome map</h2>")
    nrows = max((len(omap.steps.get(c, [])) for c in omap.columns), default=0)
    rows = []
    for i in range(nrows):
        cells = []
        for c in omap.columns:
            col = omap.steps.get(c, [])
            cells.append(f"<td>{_esc(col[i].text)}</td>" if i < len(col) else "<td></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    out.append(f'<table class="omap map">{head}<tbody>{"".join(rows)}</tbody></table>')
    for i, p in enumerate(omap.pathways, 1):
        out.append(f'<h2 id="pathway-{i}">Pathway {i}: {_esc(p.name)}</h2>')
        if p.description:
            out.append(f"<p>{_esc(p.description)}</p>")
        if p.notes:
            out.append(f'<p class="notes"><i>Note:</i> {_esc(p.notes)}</p>')
        summ = "".join(f'<td class="summary">{_esc(p.summaries[c])}</td>' if p.summaries.get(c)
                       else '<td class="summary"><span class="empty">No summary yet</span></td>'
                       for c in omap.columns)
        cells = []
        for c in omap.columns:
            divs = []
            for ps in p.steps.get(c, []):
                prog, conf, _ = ps.rating
                divs.append(f'<div class="step progress-{_cls(prog)} confidence-{_cls(conf)}">'
                            f'<p class="text">{_esc(ps.step)}</p>'
                            f'<p class="rating">{_esc(_badge(ps))}</p>{_step_details_html(ps)}</div>')
            cells.append(f"<td>{''.join(divs)}</td>")
        out.append(f'<table class="omap pathway">{head}<tbody><tr>{summ}</tr><tr>{"".join(cells)}</tr>'
                   "</tbody></table>")
    legend = " ".join(f'<span class="step progress-{_cls(k)}" style="padding:2px 6px">{_esc(k)}</span>'
                      for k in PROGRESS)
    legend2 = " ".join(f'<span class="confidence-{_cls(k)}" style="padding:2px 6px">{_esc(k)}</span>'
                       for k in CONFIDENCE)
    out.append(f"<p>Progress: {legend}</p><p>Confidence (border): {legend2}</p>")
    body = "\n".join(out)
    if not full_document:
        return f'<div class="outcome-map"><style>{_CSS}</style>\n{body}\n</div>\n'
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _md(x) -> str:
    return str(x).replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def map_markdown(omap: OutcomeMap) -> str:
    title = omap.title + omap.where()
    out = [f"# {_md(title)}", ""]
    if omap.description:
        out += [omap.description, ""]
    if omap.source:
        out += [f"Source: {omap.source}", ""]
    head = "| " + " | ".join(_md(c) for c in omap.columns) + " |"
    sep = "|" + "---|" * len(omap.columns)
    out += ["## Outcome map", "", head, sep]
    nrows = max((len(omap.steps.get(c, [])) for c in omap.columns), default=0)
    for i in range(nrows):
        out.append("| " + " | ".join(_md(omap.steps[c][i].text) if i < len(omap.steps.get(c, [])) else ""
                                     for c in omap.columns) + " |")
    out.append("")
    for i, p in enumerate(omap.pathways, 1):
        out += [f"## Pathway {i}: {_md(p.name)}", ""]
        if p.description:
            out += [p.description, ""]
        if p.notes:
            out += [f"*Note:* {p.notes}", ""]
        out += [head, sep]
        out.append("| " + " | ".join(f"*Summary:* {_md(p.summaries[c])}" if p.summaries.get(c) else "*No summary yet*"
                                     for c in omap.columns) + " |")
        n = max(len(p.steps.get(c, [])) for c in omap.columns)
        for k in range(n):
            cells = []
            for c in omap.columns:
                col = p.steps.get(c, [])
                if k < len(col):
                    prog, conf, basis = col[k].rating
                    cells.append(f"{_md(col[k].step)}<br>Progress: **{prog}** · Confidence: **{conf}**")
                else:
                    cells.append("")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        details = []
        for c in omap.columns:
            for ps in p.steps.get(c, []):
                prog, conf, basis = ps.rating
                lines = []
                if ps.reason:
                    lines.append(f"  - Reason for manual rating: {ps.reason}")
                if ps.computed is not None:
                    for v, r in zip(ps.computed.values, ps.computed.ratings):
                        lines.append(f"  - Indicator: {describe_value(v)} → progress {r[0]}, confidence {r[1]}")
                if ps.analysis:
                    lines.append(f"  - Analysis: {ps.analysis.strip()}".replace("\n", " "))
                for e in ps.evidence:
                    where = f" ({e.link})" if e.link else f" (file: {e.file})" if e.file else ""
                    when = f", {e.date}" if e.date else ""
                    lines.append(f"  - Evidence: {e.source}: {e.description}{where}{when}")
                lines += [f"  - Assumption: {a}" for a in ps.assumptions]
                lines += [f"  - Risk: {r}" for r in ps.risks]
                if lines:
                    details.append(f"- **{c}: {ps.step}**: progress {prog}, confidence {conf} ({basis})")
                    details += lines
        if details:
            out += [f"### The case for each step of pathway {i}", ""] + details + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def save_figure(fig, path: Path) -> Path:
    import matplotlib as mpl

    fmt = path.suffix.lstrip(".").lower()
    if fmt not in _SAVE_METADATA:
        raise ValueError(f"unsupported figure format {fmt!r}; expected one of: {', '.join(_SAVE_METADATA)}")
    # fixed salt and no dates or versions, so the same map gives the same bytes
    with mpl.rc_context({"svg.hashsalt": "longitudinal-outcome-map", "pdf.compression": 6}):
        fig.savefig(path, format=fmt, dpi=150, metadata=_SAVE_METADATA[fmt])
    return path


def render_files(omap: OutcomeMap, out: str | Path, formats: Iterable[str] = ("png",)) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    formats = [f.lower().lstrip(".") for f in formats]
    bad = [f for f in formats if f not in _SAVE_METADATA]
    if bad:
        raise ValueError(f"unsupported figure format(s) {bad}; expected some of: {', '.join(_SAVE_METADATA)}")
    written: dict[str, Path] = {}
    for fmt in formats:
        written[f"map.{fmt}"] = save_figure(plot_map(omap), out / f"map.{fmt}")
        for i, p in enumerate(omap.pathways):
            name = f"pathway-{i + 1:02d}-{domain.slug(p.name)[:60]}.{fmt}"
            written[name] = save_figure(plot_map(omap, i), out / name)
    (out / "map.html").write_text(map_html(omap), encoding="utf-8")
    written["map.html"] = out / "map.html"
    (out / "map.md").write_text(map_markdown(omap), encoding="utf-8")
    written["map.md"] = out / "map.md"
    if isinstance(omap, RatedMap) and omap.ratings_ is not None:
        write_csv(omap.ratings_, out / "ratings.csv")
        write_csv(omap.indicator_values_, out / "indicator_values.csv")
        written["ratings.csv"], written["indicator_values.csv"] = out / "ratings.csv", out / "indicator_values.csv"
    return written
