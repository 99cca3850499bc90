"""Report helpers: escaping at every page boundary, data vocabulary, long tails, headlines with findings."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from ecomlib import Finding, Headline, Messages
from ecomlib.report import (escape_markdown, group_tail, label_values, read_findings, read_headlines,
                            safe_markdown, styled, vocab)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


def test_styled_escapes_cells_headers_and_caption():
    df = pd.DataFrame({"product_name": [SCRIPT, "ok"], IMG: [1.5, 2.0]})
    html = styled(df, Messages("en"), formats={IMG: "num"}, caption=f"cap {IMG}").to_html()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("&lt;img src=x onerror=alert(2)&gt;") == 2  # the header and the caption
    assert ">1.5<" in html  # formatted numbers are untouched


def test_styled_escapes_translated_labels_too():
    df = pd.DataFrame({"channel": ["a"]})
    html = styled(df, labels={"channel": f"Channel {SCRIPT}"}).to_html()
    assert "<script>" not in html and "Channel &lt;script&gt;" in html


@pytest.mark.parametrize("text", [SCRIPT, IMG, "<svg onload=alert(3)>", "[x](javascript:alert(4))",
                                  "<a href='javascript:alert(5)'>x</a>"])
def test_markdown_from_data_cannot_become_markup(text):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune  # what renders the pages' Markdown

    for safe in (safe_markdown(f"**Top SKU:** {text}"), escape_markdown(text)):
        rendered = markdown2html_mistune(safe)
        assert "<script" not in rendered and "<img" not in rendered and "<svg" not in rendered
        assert 'href="javascript' not in rendered and "<a " not in rendered


def test_safe_markdown_keeps_the_kits_emphasis():
    assert safe_markdown("**Fell** by 3 %") == "**Fell** by 3 %"


def test_vocab_translates_known_codes_and_keeps_a_shops_own_names():
    zh = Messages("zh")
    assert vocab("channel", "paid_search", zh) == "付费搜索"
    assert vocab("device", "mobile", zh) == "移动端"
    assert vocab("channel", "抖音直播", zh) == "抖音直播"
    out = label_values(pd.DataFrame({"channel": ["display", None], "status": ["pending", "completed"],
                                     "spend": [1.0, 2.0]}), zh)
    assert out["channel"].tolist()[0] == "展示广告" and pd.isna(out["channel"].tolist()[1])
    assert out["status"].tolist() == ["待处理", "已完成"] and out["spend"].tolist() == [1.0, 2.0]


def test_group_tail_folds_the_long_tail_and_conserves_totals():
    df = pd.DataFrame({"channel": [f"c{i}" for i in range(3000)], "spend": range(3000), "orders": [1] * 3000})
    folded = group_tail(df, by="channel", value="spend", top=12, msg=Messages("en"))
    assert len(folded) == 13
    assert folded["channel"].iloc[-1] == "Other (2,988)"
    assert folded["spend"].sum() == df["spend"].sum() and folded["orders"].sum() == 3000
    assert folded["channel"].iloc[0] == "c2999"
    assert len(group_tail(df.head(13), by="channel", value="spend", top=12)) == 13  # one extra row: not folded
    assert group_tail(df.head(14), by="channel", value="spend", top=12, msg=Messages("zh"))["channel"].iloc[-1] \
        == "其他（2 个）"


def test_headlines_and_findings_travel_together_through_the_notebook_output():
    h = Headline("orders", "Orders", 130, "count", previous=100, source="ecomlib.funnel.compute")
    f = Finding("funnel", "drop", "Mobile checkout fell", numbers={"p": 0.001}, money=1234.5, severity="high",
                confidence="significant", anchor="sec-changes", source="ecomlib.funnel.compare_periods")
    payload = {"headlines": [h.to_json()], "findings": [f.to_json()]}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[
        nbformat.v4.new_output("display_data", data={"application/vnd.ecomlib.headlines+json": payload})])])
    nb = json.loads(nbformat.writes(nb))
    assert read_headlines(nb)[0]["source"] == "ecomlib.funnel.compute"
    assert read_findings(nb) == [f.to_json()]
