"""The plot theme renders Chinese: drawing a figure with Chinese labels raises no missing-glyph warning."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from ecomlib.theme import cjk_font, set_theme  # noqa: E402


def test_chinese_labels_render_without_missing_glyphs(tmp_path):
    set_theme()
    assert cjk_font() in matplotlib.rcParams["font.sans-serif"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        sns.barplot(x=["服装", "美妆 Beauty", "食品"], y=[3, -1, 2], ax=ax)
        ax.set_title("退货原因 — 质量问题")
        ax.set_xlabel("品类")
        ax.set_ylabel("退货率 (%)")
        fig.savefig(tmp_path / "zh.png")
        plt.close(fig)
    glyph_warnings = [str(w.message) for w in caught if "missing from font" in str(w.message).lower()
                      or "glyph" in str(w.message).lower()]
    assert glyph_warnings == []
    assert (tmp_path / "zh.png").stat().st_size > 5_000


def test_the_default_font_would_have_failed(tmp_path):
    """Guard that the check above can fail: DejaVu Sans alone has no CJK glyphs."""
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.sans-serif": ["DejaVu Sans"]}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig, ax = plt.subplots()
            ax.set_title("退货原因")
            fig.savefig(tmp_path / "bad.png")
            plt.close(fig)
    assert any("missing from font" in str(w.message).lower() for w in caught)
