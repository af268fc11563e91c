"""Formats, encodings, bad files, cleaning rules and passage offsets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.errors import IngestError
from qa.ingest import decode, ingest
from qa.models import Article
from qa.newspaper import looks_like_page, parse_page
from qa.split import split_article
from qa.text import clean_line, ends_sentence, join_lines, sentence_spans

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "seeds" / "000_12bc05e16cb61977.txt"


class TestCleaning:
    @pytest.mark.parametrize(
        ("raw", "clean"),
        [
            ("长 岗 镇 高 粱 基 地", "长岗镇高粱基地"),
            ("“ 工 BA”撬 动 百 万 善 款", "“工BA”撬动百万善款"),
            ("98 套 房 源 ，可 提 供 300 余 张 床 位 。", "98套房源，可提供300余张床位。"),
            ("全县接待群众 2353 人次", "全县接待群众2353人次"),
            ("“三品一标 ”基地", "“三品一标”基地"),
            ("开展３场培训", "开展３场培训"),  # as printed: answers quote the source
            ("开展 ３ 场培训", "开展３场培训"),
            ("Hello World 你好", "Hello World你好"),
        ],
    )
    def test_clean_line(self, raw: str, clean: str) -> None:
        assert clean_line(raw) == clean

    def test_headline_phrase_gap_kept(self) -> None:
        assert (
            clean_line("产才融合 激活创新创业“新引擎”", keep_phrase_gaps=True)
            == "产才融合 激活创新创业“新引擎”"
        )
        assert (
            clean_line("“ 工 BA”撬 动 百 万 善 款", keep_phrase_gaps=True) == "“工BA”撬动百万善款"
        )

    def test_numbers_and_words_joined_across_lines(self) -> None:
        assert (
            join_lines([clean_line("走访群众 2150"), clean_line("户（人），进一步")])
            == "走访群众2150户（人），进一步"
        )
        assert join_lines(["see the", "world"]) == "see the world"

    def test_ends_sentence(self) -> None:
        assert (
            ends_sentence("很方便。”")
            and ends_sentence("好找活。")
            and not ends_sentence("（常东升）")
        )

    @given(st.text(alphabet="工会服务站点，。！？；“”\n 12", max_size=200))
    def test_sentence_spans_tile_the_text(self, text: str) -> None:
        spans = sentence_spans(text)
        assert "".join(text[s:e] for s, e in spans) == text
        assert all(s < e for s, e in spans)


class TestSplit:
    @settings(max_examples=150, deadline=None)
    @given(
        st.text(alphabet="工会服务站点建设职工劳动者，。！？；“”\n123", min_size=1, max_size=1500)
    )
    def test_offsets_cover_and_match(self, text: str) -> None:
        article = Article(id="a1", title="t", text=text, source="s")
        passages = split_article(article, 150, 350)
        pos = 0
        for n, p in enumerate(passages):
            assert text[p.start : p.end] == p.text
            assert p.start >= pos and p.id == f"a1-{n:03d}" and p.ordinal == n
            assert text[pos : p.start].strip() == ""  # nothing but whitespace between passages
            assert len(p.text) <= 350 * 1.3
            pos = p.end
        assert text[pos:].strip() == ""

    def test_breaks_at_sentence_ends(self) -> None:
        text = "".join(f"第{i}句话说的是工会服务站点建设的情况。" for i in range(60))
        for p in split_article(Article(id="x", title="t", text=text, source="s")):
            assert p.text.endswith("。") and 150 <= len(p.text) <= 350

    def test_long_sentence_cut_at_commas(self) -> None:
        text = "，".join(["工会服务站点建设"] * 80) + "。"
        passages = split_article(Article(id="x", title="t", text=text, source="s"), 150, 350)
        assert len(passages) > 1 and all(p.text.endswith(("，", "。")) for p in passages)

    def test_bad_sizes(self) -> None:
        with pytest.raises(ValueError, match="200 and 100"):
            split_article(Article(id="x", title="t", text="好。", source="s"), 200, 100)


class TestFormats:
    def test_gbk_page_equals_utf8_page(self, tmp_path: Path) -> None:
        gbk = tmp_path / "page.txt"
        gbk.write_bytes(PAGE.read_text(encoding="utf-8").encode("gb18030"))
        utf8 = parse_page(PAGE.read_text(encoding="utf-8"), "page.txt")
        result = ingest([gbk])
        assert result.skipped == []
        assert [(a.title, a.text) for a in result.articles] == [(a.title, a.text) for a in utf8]

    def test_bom_and_plain_text_and_markdown(self, tmp_path: Path) -> None:
        (tmp_path / "a.txt").write_bytes("\ufeff工会新闻标题\n\n第一段正文。\n第二段。".encode())
        (tmp_path / "b.md").write_text("# 龙口市总工会\n\n职工由“工”到“匠”。\n", encoding="utf-8")
        result = ingest([tmp_path])
        titles = {a.title: a for a in result.articles}
        assert set(titles) == {"工会新闻标题", "龙口市总工会"}
        assert titles["工会新闻标题"].text == "第一段正文。第二段。"

    def test_jsonl_with_bad_lines(self, tmp_path: Path) -> None:
        rows = [
            {
                "title": "甲",
                "text": "正文一。",
                "subtitle": "副题",
                "byline": "记者",
                "url": "http://x",
                "date": "2023-11-28",
            },
            "{not json",
            {"text": "no title"},
            {"title": "乙", "text": "正文二。"},
        ]
        f = tmp_path / "a.jsonl"
        f.write_text(
            "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows),
            encoding="utf-8",
        )
        result = ingest([f])
        assert [a.title for a in result.articles] == ["甲", "乙"]
        assert result.articles[0].subtitle == "副题" and result.articles[0].date == "2023-11-28"
        reasons = " ".join(s.reason for s in result.skipped)
        assert "invalid JSON" in reasons and "missing 'title'" in reasons

    def test_bad_files_reported_rest_ingested(self, tmp_path: Path) -> None:
        (tmp_path / "good.txt").write_bytes(PAGE.read_bytes())
        (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02\x03" * 100)
        (tmp_path / "empty.txt").write_bytes(b"")
        (tmp_path / "junk.txt").write_bytes(bytes(range(128, 256)) * 10)
        (tmp_path / "nothing.txt").write_text("\n\n".join(["，，，"] * 30), encoding="utf-8")
        result = ingest([tmp_path, tmp_path / "missing.txt"])
        assert len(result.articles) == 12
        skipped = {Path(s.path).name: s.reason for s in result.skipped}
        assert "binary" in skipped["binary.txt"]
        assert "empty" in skipped["empty.txt"]
        assert "decode" in skipped["junk.txt"] or "binary" in skipped["junk.txt"]
        assert "no such file" in skipped["missing.txt"]
        assert "nothing.txt" in skipped

    def test_oversized_file(self, tmp_path: Path) -> None:
        (tmp_path / "big.txt").write_text("工会。" * 1000, encoding="utf-8")
        result = ingest([tmp_path / "big.txt"], max_bytes=100)
        assert result.articles == [] and "limit" in result.skipped[0].reason

    def test_duplicate_articles_reported(self, tmp_path: Path) -> None:
        (tmp_path / "a.txt").write_bytes(PAGE.read_bytes())
        result = ingest([tmp_path / "a.txt", tmp_path / "a.txt"])
        assert len(result.articles) == 12
        assert any("duplicate" in s.reason for s in result.skipped)

    def test_forced_format_and_bad_format(self, tmp_path: Path) -> None:
        f = tmp_path / "short.txt"
        f.write_text("标题\n\n正文一句。", encoding="utf-8")
        assert not looks_like_page(f.read_text(encoding="utf-8"))
        assert ingest([f]).articles[0].title == "标题"
        assert len(ingest([PAGE], fmt="page").articles) == 12
        with pytest.raises(ValueError, match="format must be one of"):
            ingest([f], fmt="pdf")  # type: ignore[arg-type]

    def test_decode_errors_name_the_file(self) -> None:
        with pytest.raises(IngestError, match="x.txt: file is empty"):
            decode(b"   ", "x.txt")
