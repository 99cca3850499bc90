"""Rendering executed notebooks: translated and anchored section headings, collapsed details, page language, kit pages."""

from __future__ import annotations

import re

import nbformat
import pytest

from ecomlib.i18n import Messages
from ecomlib.render import kit_page, notebook_html, section_anchor, translate_heading


def executed(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


def markdown(source: str, *tags: str):
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


def code(source: str, outputs, *tags: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = outputs
    cell.metadata["tags"] = list(tags)
    return cell


def stream(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


@pytest.fixture(scope="module")
def page_zh() -> str:
    nb = executed([
        markdown("# About\n\nFor analysts only.", "about"),
        markdown("## Headline numbers\n\nSome English text below.", "heading:common.headlines"),
        code("print('table')", [stream("wide detail table\n")], "details"),
        code("print('shown')", [stream("manager view\n")]),
    ])
    return notebook_html(nb, title="退货原因分析", lang="zh", msg=Messages("zh"))


def test_section_anchor_is_the_last_segment_of_the_key():
    assert section_anchor("returns.sec.culprits") == "sec-culprits"
    assert section_anchor("ads.sec.over_time") == "sec-over_time"


def test_tagged_heading_is_translated_and_anchored(page_zh):
    assert '<h2 id="sec-headlines">关键指标</h2>' in page_zh
    assert "Headline numbers" not in page_zh and "Some English text below." in page_zh
    assert "For analysts only" not in page_zh  # the 'about' cell is dropped


def test_heading_text_is_escaped_and_a_cell_without_heading_gets_one():
    class Fake:
        def __call__(self, key):
            return "<b>Returns & refunds</b>"
    assert translate_heading("### Old\ntext", "returns.sec.x", Fake()) == \
        '<h3 id="sec-x">&lt;b&gt;Returns &amp; refunds&lt;/b&gt;</h3>\ntext'
    assert translate_heading("just text", "common.headlines", Messages("en")).startswith(
        '<h2 id="sec-headlines">Headline numbers</h2>')


def test_unknown_heading_key_keeps_the_notebooks_heading():
    assert translate_heading("## Mine", "nowhere.sec.mine", Messages("en")) == '<h2 id="sec-mine">Mine</h2>'


def test_details_outputs_are_collapsed_and_others_are_not(page_zh):
    block = re.search(r'<details class="ecomlib-details"><summary>(.*?)</summary>(.*?)</details>', page_zh, re.S)
    assert block and block[1] == "分析师明细（点击展开）" and "wide detail table" in block[2]
    assert "manager view" not in block[2] and "manager view" in page_zh
    assert "<details open" not in page_zh


def test_page_language_title_and_no_network(page_zh):
    assert '<html lang="zh-CN">' in page_zh and "<title>退货原因分析</title>" in page_zh
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']https?://""", page_zh)
    english = notebook_html(executed([code("1", [stream("x\n")])]), title="Returns", lang="en")
    assert '<html lang="en">' in english and "<details" not in english


def test_kit_page_is_self_contained_with_the_language_and_escaped_title():
    page = kit_page(title="<script>x</script>", lang="zh", body_html="<p>ok</p>")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert "<title>&lt;script&gt;x&lt;/script&gt;</title>" in page and "<script>" not in page
