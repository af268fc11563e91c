"""Drive a running Open WebUI (connected to a running `qa serve`) in chromium and check citations.

For each answerable question: the answer shows source chips whose titles are the articles our
API cites, and a chip's link opens the permalink page with the quoted sentence highlighted. For
the off-topic question: the refusal, and no chip. Screenshots go to --out; a JSON report too.
Run by `scripts/try-openwebui` (which installs and starts both); exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

QUESTIONS = [
    "恩平篮球赛有多少家企业捐资？",
    "上海普陀区的骑手公寓有多少套房源？",
    "嘉禾县的群众满意率是多少？",
]
OFF_TOPIC = "明天北京会下雨吗？"
CHROMIUM = "/usr/bin/chromium"


def ask_api(qa: str, question: str) -> dict[str, Any]:
    """What our own API answers (the citations Open WebUI should show)."""
    body = json.dumps({"messages": [{"role": "user", "content": question}]}).encode()
    req = urllib.request.Request(
        f"{qa}/v1/chat/completions", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def new_chat(page: Page, webui: str) -> None:
    page.goto(webui, wait_until="load", timeout=60_000)
    page.wait_for_selector("#chat-input", timeout=60_000)
    page.wait_for_timeout(1000)
    release_notes = page.get_by_text("Okay, Let's Go!")
    if release_notes.count():
        release_notes.first.click()


def send(page: Page, question: str) -> Any:
    page.locator("#chat-input").click()
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    # the answer is done when its action bar (Regenerate) shows
    page.wait_for_selector('button[aria-label="Regenerate"]', timeout=90_000)
    page.wait_for_timeout(800)
    return page.locator(".chat-assistant, [id^='message-']").last


def chip_titles(page: Page) -> list[str]:
    labels = page.locator('button[aria-label^="View source:"]')
    out = []
    for i in range(labels.count()):
        label = (labels.nth(i).get_attribute("aria-label") or "")[len("View source:") :].strip()
        out.append(label)
    return out


def check_question(page: Page, webui: str, qa: str, question: str, out: Path, n: int) -> dict:
    expected = ask_api(qa, question)
    cited = [c["title"] for c in expected["citations"]]
    new_chat(page, webui)
    send(page, question)
    titles = chip_titles(page)
    page.screenshot(path=str(out / f"openwebui-answer-{n}.png"))
    report: dict[str, Any] = {"question": question, "cited": cited, "chips": titles}
    # chips come inline ([n] markers) and in the source list; some carry a "1 " prefix
    report["chips_match"] = bool(titles) and all(any(t.endswith(c) for t in titles) for c in cited)
    # open the source list, then a chip: its modal links to the permalink
    toggle = page.locator('button[aria-label^="Toggle"]')
    if toggle.count():
        toggle.first.click()
        page.wait_for_timeout(500)
    page.locator('button[aria-label^="View source:"]').first.click()
    page.wait_for_timeout(1200)
    page.screenshot(path=str(out / f"openwebui-source-{n}.png"))
    links = page.locator(f'a[href^="{qa}/articles/"]')
    href = links.first.get_attribute("href") if links.count() else None
    report["link"] = href
    report["permalink_ok"] = False
    if href:
        target = page.context.new_page()
        resp = target.goto(href.split("#:~:")[0], wait_until="load")
        mark = target.locator("mark#hl")
        marked = mark.inner_text() if mark.count() else ""
        quoted = expected["citations"][0]["text"]
        report["permalink_status"] = resp.status if resp else None
        report["highlighted"] = marked
        report["permalink_ok"] = bool(
            resp and resp.status == 200 and marked and marked.strip() in quoted
        )
        target.screenshot(path=str(out / f"openwebui-permalink-{n}.png"))
        target.close()
    page.keyboard.press("Escape")
    return report


def check_off_topic(page: Page, webui: str, out: Path) -> dict:
    new_chat(page, webui)
    send(page, OFF_TOPIC)
    text = page.locator("#chat-container").inner_text()
    titles = chip_titles(page)
    page.screenshot(path=str(out / "openwebui-refusal.png"))
    refused = "没有找到" in text
    return {
        "question": OFF_TOPIC,
        "refused": refused,
        "chips": titles,
        "ok": refused and not titles,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--webui", default="http://127.0.0.1:8080")
    ap.add_argument("--qa", default="http://127.0.0.1:8765")
    ap.add_argument("--out", default="docs/openwebui")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"questions": [], "off_topic": None}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        for n, q in enumerate(QUESTIONS, 1):
            r = check_question(page, args.webui, args.qa, q, out, n)
            results["questions"].append(r)
            print(
                f"{q}  chips={r['chips']}  match={r['chips_match']}  "
                f"permalink={r['permalink_ok']} ({r.get('highlighted', '')[:30]})",
                flush=True,
            )
        results["off_topic"] = check_off_topic(page, args.webui, out)
        print(f"{OFF_TOPIC}  {results['off_topic']}", flush=True)
        browser.close()
    ok = all(r["chips_match"] and r["permalink_ok"] for r in results["questions"])
    ok = ok and results["off_topic"]["ok"]
    results["passed"] = ok
    (out / "report.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), "utf-8")
    print("PASS" if ok else "FAIL", f"(report: {out / 'report.json'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
