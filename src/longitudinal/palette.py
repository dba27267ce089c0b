"""The report figures' look: colours every reader can see, a second cue besides colour, readable text.

WCAG 2.1 asks for 3:1 contrast between a figure's marks and their background (1.4.11) and for
information never carried by colour alone (1.4.1). Every series style here pairs a colour of at
least 3:1 against white with its own marker and line style; :func:`text_px_on_page` measures the
smallest text of a figure as it appears when the page scales it to its column.

Examples
--------
>>> from longitudinal.palette import PALETTE, contrast
>>> min(round(contrast(c), 2) for c in PALETTE) >= 3.0
True
>>> round(contrast("#E69F00"), 2)  # Okabe-Ito orange: too light on white for a figure's marks
2.25
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["PALETTE", "MARKERS", "LINESTYLES", "HATCHES", "contrast", "series_style", "figure_style",
           "lay_out", "static_layout", "text_px_on_page", "PAGE_PX", "DPI", "MIN_TEXT_PX"]

#: Okabe-Ito's colour-blind-safe order, the hues too light on white (orange, sky blue, yellow, the
#: bluish green and reddish purple at 2.3-3.4:1) replaced by darker ones of the same family.
PALETTE: tuple[str, ...] = ("#0072B2", "#A65E00", "#007A5E", "#D55E00", "#AA4499", "#332288", "#5F6B00",
                            "#000000")
#: A marker and a line style per series, so that no series is told apart by colour alone.
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES: tuple = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 1)), (0, (5, 2, 1, 2)))
#: Bar fills besides colour (bars of different series side by side).
HATCHES: tuple[str, ...] = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
#: The width a figure is shown at on the page (CSS ``max-width`` of the report's column), its resolution,
#: and the smallest text allowed there.
PAGE_PX = 960
DPI = 110
MIN_TEXT_PX = 12.0


def _luminance(colour: str) -> float:
    from matplotlib.colors import to_rgb

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in to_rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(colour: str, background: str = "#ffffff") -> float:
    """WCAG 2.1 contrast ratio of two colours (1 to 21)."""
    hi, lo = sorted((_luminance(colour), _luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def series_style(i: int) -> dict:
    """Colour, marker and line style of the ``i``-th series (they cycle after eight)."""
    k = i % len(PALETTE)
    return {"color": PALETTE[k], "marker": MARKERS[k], "linestyle": LINESTYLES[k]}


#: Font sizes (points) that stay at least MIN_TEXT_PX on the page for a figure no wider than the column.
_RC = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 9.5,
       "ytick.labelsize": 9.5, "legend.fontsize": 9.5, "figure.titlesize": 12, "savefig.dpi": DPI}


@contextmanager
def figure_style():
    """Draw inside this: the report's font sizes and colour cycle (colour, marker and line style together)."""
    import matplotlib as mpl
    from cycler import cycler

    rc = dict(_RC)
    rc["axes.prop_cycle"] = cycler(color=list(PALETTE)) + cycler(marker=list(MARKERS)) + \
        cycler(linestyle=list(LINESTYLES))
    with mpl.rc_context(rc):
        yield


def static_layout(fig) -> bool:
    """Whether drawing the figure leaves where things are as it is: it has no layout engine, or only the placeholder
    a one-off ``fig.tight_layout()`` leaves, which lays nothing out and is dropped here (else ``savefig`` would lay
    the figure out once more, for nothing, before painting it)."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)
    return fig.get_layout_engine() is None


def lay_out(fig, dpi: int | None = DPI):
    """Lay the figure out at the resolution it is saved at (``None``: its own), without painting it; returns its
    tight bounding box in inches (what ``savefig(bbox_inches="tight")`` crops to, before the padding).

    The figure keeps that resolution, so that saving it (:func:`longitudinal.report.publish.save_figure`) with
    this box needs no second layout.
    """
    if dpi is not None:
        fig.set_dpi(dpi)
    if not static_layout(fig):
        fig.draw_without_rendering()  # its engine places the axes when the figure is drawn
    # Measuring lays out what it measures (ticks, labels, legends, titles): no draw is needed before it.
    return fig.get_tightbbox()


def text_px_on_page(fig, page_px: int = PAGE_PX, dpi: int = DPI, *, bbox=None) -> float:
    """The height in CSS pixels of the figure's smallest text once the page scales it to ``page_px`` wide.

    A PNG saved at ``dpi`` shows 1 pt as ``dpi / 72`` pixels, shrunk by ``page_px / width`` when the
    image is wider than the column (``max-width: 100%``). Measured on the figure as it will be saved
    (tight bounding box: ``bbox``, when :func:`lay_out` gave it already).
    """
    if bbox is None:
        bbox = lay_out(fig, dpi)
    width_px = bbox.width * dpi
    scale = min(1.0, page_px / width_px)
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text"))
             if t.get_visible() and str(t.get_text()).strip()]
    return min(sizes) * dpi / 72 * scale if sizes else float("inf")
