"""One plot theme for every notebook: seaborn style, palette, figure size and a font that renders Chinese."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib as mpl
import seaborn as sns
from matplotlib import font_manager

CJK_FONT_FILES = ("NotoSansCJKsc-Regular.otf",)
SYSTEM_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "Source Han Sans SC")
PALETTE = "deep"


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """Register a CJK-capable font with matplotlib and return its family name.

    The font comes from the ``mplfonts`` package (Noto Sans CJK SC, installed with ecomlib), else from the
    system (fonts-noto-cjk, fonts-wqy-microhei). Raises RuntimeError when none is found.
    """
    try:
        import mplfonts
        folder = Path(mplfonts.__file__).parent / "fonts"
        for name in CJK_FONT_FILES:
            path = folder / name
            if path.exists():
                font_manager.fontManager.addfont(str(path))
                return font_manager.FontProperties(fname=str(path)).get_name()
    except ImportError:
        pass
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in SYSTEM_CJK_FAMILIES:
        if family in installed:
            return family
    raise RuntimeError("no font with Chinese glyphs found: pip install mplfonts, or install fonts-noto-cjk")


def set_theme(*, context: str = "notebook", figsize: tuple[float, float] = (9.0, 4.5)) -> None:
    """Set the kit's seaborn theme (whitegrid, ``deep`` palette, CJK font) for every later figure.

    Example
    -------
    >>> set_theme()
    >>> import matplotlib.pyplot as plt
    >>> ax = plt.gca(); _ = ax.set_title("转化漏斗 Funnel")   # renders without missing-glyph warnings
    """
    family = cjk_font()
    sns.set_theme(context=context, style="whitegrid", palette=PALETTE, font=family,
                  rc={"axes.unicode_minus": False,  # the CJK font has no U+2212 minus sign
                      "font.sans-serif": [family, "DejaVu Sans"],
                      "figure.figsize": figsize, "figure.dpi": 100, "savefig.dpi": 100,
                      "axes.titlesize": "large", "axes.spines.right": False, "axes.spines.top": False})
    mpl.rcParams["figure.autolayout"] = True
