"""Render executed notebooks to self-contained HTML (figures inlined, nothing fetched from the network, code hidden)."""

from __future__ import annotations

import copy
import warnings
from importlib import resources
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from traitlets.config import Config

HIDE_INPUT_TAG = "ecomlib-hide-input"
# "about" marks the notebook's opening note for analysts (English, in JupyterLab); the page has its own title.
REMOVE_CELL_TAGS = {"injected-parameters", "parameters", "about"}
TEMPLATE = "ecomlib_html"


def _templates_dir() -> str:
    return str(resources.files("ecomlib") / "templates")


def _failed_cells(nb) -> set[int]:
    """Indexes of code cells whose output is an error (the cell that stopped the run)."""
    return {i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            and any(out.get("output_type") == "error" for out in cell.get("outputs", []))}


def notebook_html(nb, *, title: str, show_code: bool = False, runbar_html: str = "", lang: str = "en") -> str:
    """HTML of an executed notebook.

    Code cells are hidden unless ``show_code``; the cell that failed always keeps its code so the reader sees
    what broke. Parameter cells are dropped. ``runbar_html`` (a line with run facts and a link back to the
    index) goes above the notebook. Images stay inline as base64; no script or style is loaded from the network.
    """
    nb = copy.deepcopy(nb)
    failed = _failed_cells(nb)
    for i, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        if cell.cell_type == "code" and not show_code and i not in failed:
            tags.add(HIDE_INPUT_TAG)
        if tags & REMOVE_CELL_TAGS and i not in failed:
            tags.add("ecomlib-remove")
        cell.metadata["tags"] = sorted(tags)
    nb.metadata["title"] = title
    config = Config()
    config.TagRemovePreprocessor.remove_input_tags = {HIDE_INPUT_TAG}
    config.TagRemovePreprocessor.remove_cell_tags = {"ecomlib-remove"}
    config.TagRemovePreprocessor.enabled = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    exporter = HTMLExporter(config=config, template_name=TEMPLATE, extra_template_basedirs=[_templates_dir()])
    exporter.register_preprocessor(TagRemovePreprocessor(config=config), enabled=True)
    with warnings.catch_warnings():
        # the headlines bundle has no visual form on purpose; nbconvert warns about every such output
        warnings.filterwarnings("ignore", message=".*is not able to be represented")
        body, _ = exporter.from_notebook_node(nb, resources={"language_code": lang})
    if runbar_html:
        head, sep, rest = body.partition("<main>")
        if sep:
            body = f"{head}{sep}\n{runbar_html}\n{rest}"
        else:
            start = body.index(">", body.index("<body")) + 1
            body = body[:start] + runbar_html + body[start:]
    return body


def render_file(ipynb: str | Path, html: str | Path, **kwargs) -> Path:
    """Read an executed ``.ipynb`` and write its HTML next to it (see :func:`notebook_html`)."""
    nb = nbformat.read(str(ipynb), as_version=4)
    Path(html).write_text(notebook_html(nb, **kwargs), encoding="utf-8")
    return Path(html)
