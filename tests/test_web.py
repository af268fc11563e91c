"""The chat page in a real browser (Debian's chromium driven by Playwright) against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, serve

from qa.api import create_app
from qa.config import Settings
from qa.search import Searcher

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.model,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def base_url(seed_searcher: Searcher) -> Iterator[str]:
    with serve(create_app(Settings(reload_seconds=0), searcher=seed_searcher)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield b
        b.close()


def ask(page, question: str, nth: int = 0, timeout: int = 60_000) -> None:
    """Type a question, send it, and wait until the ``nth`` answer of the page is done."""
    page.fill("#question", question)
    page.click("#send")
    page.wait_for_selector(f".msg.assistant[data-state=done] >> nth={nth}", timeout=timeout)


def test_ask_stream_cite_and_read(browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(base_url)
    ask(page, "恩平篮球赛有多少家企业捐资？")
    answer = page.inner_text(".msg.assistant .answer")
    assert "102家企业" in answer
    short = page.inner_text(".msg.assistant .short-answer")
    assert "102" in short  # the reader's short answer stands first
    page.click("button.cite >> nth=0")
    panel = page.locator("#source-panel")
    panel.wait_for(state="visible", timeout=10_000)
    marked = page.inner_text("#source-panel mark >> nth=0")
    assert marked and marked[:10] in answer
    assert page.inner_text("#source-panel mark.answer") == short  # highlighted in its sentence
    assert "“工BA”撬动百万善款" in page.inner_text("#source-panel")
    href = page.get_attribute("#permalink", "href")
    assert href and href.startswith(f"{base_url}/articles/")
    page.click("#read-article")
    page.wait_for_selector("#source-panel .cited-span", timeout=10_000)
    assert "近日，广东江门恩平市沙湖镇" in page.inner_text("#source-panel")
    out = ROOT / "docs" / "screenshot.png"
    out.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(out), full_page=False)
    assert out.stat().st_size > 10_000
    page.close()


def test_follow_up_says_how_it_was_read(browser, base_url: str) -> None:
    """那租金呢？ is answered as 租金是多少？, and the page says so under the answer."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(base_url)
    ask(page, "上海普陀区骑手新家有多少套房源？")
    assert page.locator(".msg.assistant .read-as").count() == 0  # read as asked
    ask(page, "那租金呢？", nth=1)
    second = page.locator(".msg.assistant").nth(1)
    assert "租金是多少？" in second.locator(".read-as").inner_text()
    assert "550元" in second.locator(".short-answer").inner_text()
    page.close()


def test_phone_width_and_example_chip(browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(base_url)
    page.wait_for_selector(".example", timeout=10_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.click(".example >> nth=0")
    page.wait_for_selector(
        ".msg.assistant[data-state=done], .msg.assistant[data-state=not-found]", timeout=60_000
    )
    assert page.inner_text(".msg.assistant .answer").strip()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.close()


def test_script_in_an_article_stays_text(browser, tmp_path: Path) -> None:
    from conftest import FakeEmbedder, make_article

    from qa.indexer import build

    evil = make_article(
        "带脚本的文章",
        '工会驿站<script>window.__pwned = 1</script>暖人心。<img src=x onerror="window.__pwned = 2">职工之家开放。',
    )
    emb = FakeEmbedder()
    build([evil], tmp_path / "i", emb, progress=False)
    with serve(
        create_app(
            Settings(reload_seconds=0, reader="off"), searcher=Searcher.open(tmp_path / "i", emb)
        )
    ) as url:
        page = browser.new_page()
        page.goto(url)
        ask(page, "工会驿站暖人心职工之家", timeout=30_000)
        page.click("button.cite >> nth=0")
        page.click("#read-article")
        page.wait_for_selector("#source-panel .cited-span", timeout=10_000)
        assert "<script>window.__pwned = 1</script>" in page.inner_text("#source-panel")
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#source-panel script, #source-panel img").count() == 0
        page.close()


def test_permalink_without_javascript_on_a_phone(browser, base_url: str) -> None:
    import json
    import urllib.request

    body = json.dumps({"messages": [{"role": "user", "content": "嘉禾县的群众满意率是多少？"}]})
    req = urllib.request.Request(
        f"{base_url}/api/chat", body.encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        citation = json.loads(r.read())["citations"][0]
    context = browser.new_context(
        viewport={"width": 390, "height": 740}, java_script_enabled=False, is_mobile=True
    )
    page = context.new_page()
    resp = page.goto(citation["url"])
    assert resp is not None and resp.status == 200
    mark = page.locator("mark#hl")
    s, e = citation["evidence_span"] or citation["highlights"][0]
    assert mark.inner_text() == citation["text"][s:e]
    box = mark.bounding_box()
    assert box is not None and 0 <= box["y"] < 740  # scrolled into view by #hl alone
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling on a phone
    page.screenshot(path=str(ROOT / "docs" / "permalink-phone.png"))
    context.close()
