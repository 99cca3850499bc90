"""Message catalogue and locale formats: every key in every language, numbers as each locale writes them."""

from __future__ import annotations

import string

import pytest

from ecomlib.i18n import LANGS, Messages, catalogue


def test_every_key_has_every_language_and_the_same_fields():
    for key, texts in catalogue().items():
        assert set(texts) == set(LANGS), f"{key} has {sorted(texts)}"
        fields = [{f for _, f, _, _ in string.Formatter().parse(texts[lang]) if f} for lang in LANGS]
        assert fields[0] == fields[1], f"{key}: placeholders differ between languages {fields}"


def test_chinese_money_uses_wan_and_yi():
    zh = Messages("zh", currency="CNY")
    assert zh.money(12_345.0) == "¥1.2万"
    assert zh.money(123_456_789.0) == "¥1.2亿"
    assert zh.money(2_345.0) == "¥2,345"
    assert zh.money(12.5) == "¥12.50"


def test_english_money_and_numbers():
    en = Messages("en", currency="USD")
    assert en.money(1_234_567.0) == "$1.2M"
    assert en.money(2_345.0) == "$2,345"
    assert en.int(1234567.4) == "1,234,567"
    assert en.pct(0.1234) == "12.3%"
    assert en.pp(-0.1231) == "-12.3 pp" and en.pp(-0.0004) == "0.0 pp"
    assert en.pvalue(0.0004) == "p < 0.001" and en.pvalue(0.0234) == "p = 0.023"
    assert en.ratio(2.346) == "2.35×"
    assert en.pct(float("nan")) == "–"


def test_templates_format_their_fields_by_kind():
    zh = Messages("zh", currency="CNY")
    assert zh.pp(0.05) == "+5.0个百分点"
    assert zh("common.index_title", period="2026-W47") == "运营复盘 — 2026-W47"
    assert zh.date("2026-11-16") == "2026年11月16日"


def test_unknown_key_and_language_are_clear_errors():
    with pytest.raises(KeyError, match=r"common\.nope.*ecomlib/messages/common\.yaml"):
        Messages("en")("common.nope")
    with pytest.raises(ValueError, match=r"lang must be one of \['en', 'zh'\]"):
        Messages("fr")


def test_page_language_codes_and_the_runners_message_keys():
    from ecomlib.i18n import html_lang
    from ecomlib.review import CONFIDENCES, SEVERITIES

    assert (html_lang("en"), html_lang("zh")) == ("en", "zh-CN")
    keys = set(catalogue())
    needed = {f"common.severity_{s}" for s in SEVERITIES} | {f"common.confidence_{c}" for c in CONFIDENCES}
    needed |= {"common.this_week", "common.this_month", "common.details_summary", "common.partial_coverage",
               "common.skipped_missing_table"}
    assert needed <= keys, sorted(needed - keys)
    zh = Messages("zh", currency="CNY")
    assert zh("common.partial_coverage", covered=3, days=7, first="a", last="b").startswith("本周期数据不完整：7 天中仅 3 天")


def test_the_index_names_each_review_as_its_page_does():
    """common.review.<notebook> (index, skipped pages) equals the title key the notebook shows (el.title)."""
    import json
    import re
    from pathlib import Path

    from ecomlib.i18n import catalogue

    texts = catalogue()
    for path in sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb")):
        source = "".join("".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])
        key = re.search(r"""el\.title\(\s*["']([a-z_]+\.title)["']""", source)
        assert key, f"{path.name} shows no el.title(...)"
        assert texts[f"common.review.{path.stem}"] == texts[key[1]], path.name
