"""Figures every reader can see: contrast, a second cue besides colour, text size on the page (WCAG 2.1)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from longitudinal.palette import (  # noqa: E402
    DPI,
    LINESTYLES,
    MARKERS,
    MIN_TEXT_PX,
    PAGE_PX,
    PALETTE,
    contrast,
    figure_style,
    series_style,
    text_px_on_page,
)


def test_contrast_is_wcag_relative_luminance():
    """Known values: black on white 21:1, white on white 1:1, the W3C example #777777 about 4.48:1, and the
    issue's measurements of the old palette (#E69F00 2.25:1)."""
    assert contrast("#000000") == pytest.approx(21.0)
    assert contrast("#ffffff") == pytest.approx(1.0)
    assert contrast("#777777") == pytest.approx(4.48, abs=0.01)
    assert contrast("#E69F00") == pytest.approx(2.25, abs=0.01)
    assert contrast("#ffffff", "#000000") == contrast("#000000", "#ffffff")


def test_every_series_is_at_least_3_to_1_on_white_and_has_its_own_marker_and_line():
    assert min(contrast(c) for c in PALETTE) >= 3.0, {c: round(contrast(c), 2) for c in PALETTE}
    assert len(set(PALETTE)) == len(set(MARKERS)) == len(set(map(str, LINESTYLES))) == len(PALETTE)
    styles = [series_style(i) for i in range(len(PALETTE))]
    assert len({(s["marker"], str(s["linestyle"])) for s in styles}) == len(PALETTE)


def test_the_style_cycles_colour_marker_and_line_together():
    with figure_style():
        fig, ax = plt.subplots(figsize=(6, 3))
        lines = [ax.plot([0, 1], [i, i + 1])[0] for i in range(3)]
    assert [ln.get_marker() for ln in lines] == list(MARKERS[:3])
    assert [ln.get_color().lower() for ln in lines] == [c.lower() for c in PALETTE[:3]]
    plt.close(fig)


def test_text_size_on_the_page():
    """A figure as wide as the column shows 9.5 pt text at 9.5 * 110 / 72 = 14.5 px; twice as wide, at half."""
    with figure_style():
        fig, ax = plt.subplots(figsize=(PAGE_PX / DPI * 0.9, 3))
        ax.set_title("a title")
        ax.plot([0, 1], [0, 1])
    px = text_px_on_page(fig)
    assert px == pytest.approx(9.5 * DPI / 72, rel=0.01) and px >= MIN_TEXT_PX
    fig.set_size_inches(PAGE_PX / DPI * 2, 3)
    assert text_px_on_page(fig) < MIN_TEXT_PX
    plt.close(fig)
