"""Render executed notebooks to self-contained HTML (figures inlined, nothing fetched from the network, code hidden).

Cell tags the renderer reads:

- ``heading:<message key>`` on a markdown cell: its first heading line shows the translated message in the
  run's language and gets the anchor id ``sec-<last segment of the key>`` (``heading:returns.sec.culprits`` →
  ``<h2 id="sec-culprits">``), which findings link to;
- ``details`` on a code cell: its outputs go into a collapsed ``<details>`` block (detail tables for analysts);
- ``parameters``, ``injected-parameters`` and ``about`` cells are dropped.
"""

from __future__ import annotations

import copy
import logging
import re
import warnings
from html import escape
from importlib import resources
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from traitlets.config import Config

from .i18n import Messages, html_lang

HIDE_INPUT_TAG = "ecomlib-hide-input"
# "about" marks the notebook's opening note for analysts (English, in JupyterLab); the page has its own title.
REMOVE_CELL_TAGS = {"injected-parameters", "parameters", "about"}
HEADING_TAG = "heading:"
DETAILS_TAG = "details"
TEMPLATE = "ecomlib_html"
log = logging.getLogger(__name__)
_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _templates_dir() -> str:
    return str(resources.files("ecomlib") / "templates")


def _failed_cells(nb) -> set[int]:
    """Indexes of code cells whose output is an error (the cell that stopped the run)."""
    return {i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and any(out.get("output_type") == "error" for out in cell.get("outputs", []))}


def section_anchor(key: str) -> str:
    """The anchor id of a section heading tagged ``heading:<key>``: ``sec-`` and the key's last segment.

    >>> section_anchor("returns.sec.culprits")
    'sec-culprits'
    """
    return "sec-" + re.sub(r"[^A-Za-z0-9_-]", "-", key.rsplit(".", 1)[-1])


def translate_heading(source: str, key: str, msg: Messages) -> str:
    """A markdown cell's source with its first heading line replaced by the translated, anchored heading.

    The heading becomes HTML (``<h2 id="sec-x">…</h2>``, text escaped) so the anchor is exactly ``sec-<name>``;
    a cell without a heading line gets one (level 2) on top. A key missing from the catalogue keeps the
    cell's own text (and logs it): the page still renders, and the catalogue test names the key.
    """
    try:
        text = msg(key)
    except KeyError:
        log.warning("heading key %r is not in the message catalogue; keeping the notebook's heading", key)
        text = None
    lines = source.splitlines()
    for i, line in enumerate(lines):
        if m := _HEADING_LINE.match(line):
            level = len(m[1])
            lines[i] = f'<h{level} id="{section_anchor(key)}">{escape(text if text is not None else m[2])}</h{level}>'
            return "\n".join(lines)
    heading = f'<h2 id="{section_anchor(key)}">{escape(text if text is not None else key)}</h2>'
    return "\n".join([heading, "", *lines])


def _page_css() -> str:
    return """
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans CJK SC", "PingFang SC",
         "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; margin: 0; color: #1d232b; }
  main { max-width: 1100px; margin: 0 auto; padding: 16px 24px; }
  .ecomlib-runbar { max-width: 1100px; margin: 8px auto 0; color: #555; font-size: 13px; }
  .ecomlib-runbar a { color: #1f5fa8; }
  .ecomlib-banner { max-width: 1100px; margin: 8px auto; padding: 8px 12px; background: #fff6d6;
                    border: 1px solid #e8d48a; border-radius: 6px; font-size: 14px; }
  .ecomlib-banner.ecomlib-error { background: #fde4e1; border-color: #e6a49b; }
  pre.ecomlib-error { color: #a2271b; white-space: pre-wrap; }
"""


def kit_page(*, title: str, lang: str, body_html: str, runbar_html: str = "") -> str:
    """A small self-contained page of the kit (a skipped or failed notebook): ``body_html`` must be escaped already."""
    return (f'<!DOCTYPE html>\n<html lang="{html_lang(lang)}">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f'<style>{_page_css()}</style>\n</head>\n<body>\n{runbar_html}\n<main>\n{body_html}\n</main>\n</body>\n</html>\n')


def notebook_html(nb, *, title: str, show_code: bool = False, runbar_html: str = "", lang: str = "en",
                  msg: Messages | None = None, footer_html: str = "") -> str:
    """HTML of an executed notebook.

    Code cells are hidden unless ``show_code``; the cell that failed always keeps its code so the reader sees
    what broke. Parameter cells are dropped. Headings tagged ``heading:<key>`` are translated and anchored;
    outputs of cells tagged ``details`` are collapsed. ``runbar_html`` (a line with run facts and a link back to
    the index, already escaped) goes above the notebook, ``footer_html`` (already escaped) at the end of the page. Images stay inline as base64; no script or style is
    loaded from the network. The page's ``<title>`` is ``title`` and ``<html lang>`` the run's language.
    """
    msg = msg or Messages(lang)
    nb = copy.deepcopy(nb)
    failed = _failed_cells(nb)
    for i, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type == "code" and not show_code and i not in failed:
            tags.add(HIDE_INPUT_TAG)
        if tags & REMOVE_CELL_TAGS and i not in failed:
            tags.add("ecomlib-remove")
        if cell.cell_type == "markdown":
            for tag in sorted(t for t in tags if t.startswith(HEADING_TAG)):
                cell.source = translate_heading(cell.source, tag[len(HEADING_TAG):], msg)
        cell.metadata["tags"] = sorted(tags)
    nb.metadata["title"] = title
    config = Config()
    config.TagRemovePreprocessor.remove_input_tags = {HIDE_INPUT_TAG}
    config.TagRemovePreprocessor.remove_cell_tags = {"ecomlib-remove"}
    config.TagRemovePreprocessor.enabled = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.HTMLExporter.language_code = lang if lang in ("en", "zh") else "en"
    exporter = HTMLExporter(config=config, template_name=TEMPLATE, extra_template_basedirs=[_templates_dir()])
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    with warnings.catch_warnings():
        # the headlines bundle has no visual form on purpose; nbconvert warns about every such output
        warnings.filterwarnings("ignore", message=".*is not able to be represented")
        body, _ = exporter.from_notebook_node(nb, resources={"ecomlib": {
            "details_summary": msg("common.details_summary")}})
    body = re.sub(r'<html lang="[^"]*">', f'<html lang="{html_lang(lang)}">', body, count=1)
    if runbar_html:
        head, sep, rest = body.partition("<main>")
        if sep:
            body = f"{head}{sep}\n{runbar_html}\n{rest}"
        else:
            start = body.index(">", body.index("<body")) + 1
            body = body[:start] + runbar_html + body[start:]
    if footer_html:
        end = body.rindex("</body>")
        body = body[:end] + footer_html + "\n" + body[end:]
    return body


def render_file(ipynb: str | Path, html: str | Path, **kwargs) -> Path:
    """Read an executed ``.ipynb`` and write its HTML next to it (see :func:`notebook_html`)."""
    nb = nbformat.read(str(ipynb), as_version=4)
    Path(html).write_text(notebook_html(nb, **kwargs), encoding="utf-8")
    return Path(html)
