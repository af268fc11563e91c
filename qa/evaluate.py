"""Retrieval quality: recall@k and MRR@10 at article level, answer-in-passage rates, per mode."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import Answerer, Message, answer_messages
from qa.errors import QAError
from qa.models import Answer, Article, Hit
from qa.search import MODES, Searcher
from qa.text import compact
from qa.tokens import fold

log = logging.getLogger(__name__)
KS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Question:
    question: str
    answer: str
    article_id: str | None = None
    article_title: str | None = None
    answers: tuple[str, ...] = ()  # every gold answer (SQuAD-style data has several)
    lang: str = ""  # the question's language when the set says it (tests/data/cross_lingual.jsonl)

    @property
    def golds(self) -> list[str]:
        return [a for a in (self.answers or (self.answer,)) if a]


def load_questions(path: Path, skipped: Counter[str] | None = None) -> list[Question]:
    """JSON lines of {"question", "article_title" or "article_id", "answer"}.

    A malformed line (not JSON, no question, no article) is skipped and counted in ``skipped``
    by reason; one bad line never ends an evaluation."""
    skipped = Counter() if skipped is None else skipped
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                skipped["not JSON"] += 1
                log.warning("%s:%d: not JSON, skipped", path, n)
                continue
            if not isinstance(obj, dict):
                skipped["not an object"] += 1
                continue
            question = obj.get("question")
            if not isinstance(question, str) or not question.strip():
                skipped["empty question"] += 1
                log.warning("%s:%d: empty question, skipped", path, n)
                continue
            if obj.get("kind") in ("near_miss", "off_topic"):
                # unanswerable by design: measured by bench/reader.py and bench/crosslingual.py
                skipped[f"{obj['kind']} (not scored for retrieval)"] += 1
                continue
            if not (obj.get("article_id") or obj.get("article_title")):
                skipped["no article"] += 1
                log.warning("%s:%d: needs 'article_title' or 'article_id', skipped", path, n)
                continue
            out.append(
                Question(
                    question,
                    str(obj.get("answer") or ""),
                    obj.get("article_id"),
                    obj.get("article_title"),
                    lang=str(obj.get("lang") or ""),
                )
            )
    return out


def load_squad(
    path: Path, skipped: Counter[str] | None = None
) -> tuple[list[Article], list[Question]]:
    """SQuAD-style JSON: each paragraph becomes one article (title from the data); its questions
    are gold for that paragraph. Malformed items (empty question, no answer, an answer that is
    not in its paragraph, a paragraph without text) are skipped and counted in ``skipped``."""
    skipped = Counter() if skipped is None else skipped
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise QAError(f"{path}: not a readable SQuAD-style JSON file ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise QAError(f"{path}: no 'data' list; expected SQuAD-style JSON")
    articles: list[Article] = []
    questions: list[Question] = []
    for doc in data["data"]:
        for para in doc.get("paragraphs", []) if isinstance(doc, dict) else []:
            context = para.get("context") if isinstance(para, dict) else None
            qas = para.get("qas", []) if isinstance(para, dict) else []
            if not isinstance(context, str) or not context.strip():
                skipped["paragraph without text"] += 1 + len(qas)
                continue
            aid = str(para.get("id") or f"{doc.get('id', 'doc')}-{len(articles)}")
            articles.append(
                Article(id=aid, title=doc.get("title") or aid, text=context, source=path.name)
            )
            folded = compact(fold(context))
            for qa in qas:
                question = qa.get("question") if isinstance(qa, dict) else None
                if not isinstance(question, str) or not question.strip():
                    skipped["empty question"] += 1
                    continue
                texts = tuple(
                    str(a.get("text", ""))
                    for a in qa.get("answers") or []
                    if isinstance(a, dict) and str(a.get("text", "")).strip()
                )
                if not texts:
                    skipped["no answer"] += 1
                    continue
                if not any(compact(fold(t)) in folded for t in texts):
                    skipped["answer not in its paragraph"] += 1
                    continue
                questions.append(Question(question, texts[0], article_id=aid, answers=texts))
    return articles, questions


def _gold(q: Question, titles: dict[str, list[str]]) -> set[str]:
    if q.article_id:
        return {q.article_id}
    return set(titles.get(q.article_title or "", []))


def article_ranking(hits: Sequence[Hit]) -> list[str]:
    """Article ids in the order their first passage appears."""
    return list(dict.fromkeys(h.article.id for h in hits))


def evaluate(
    searcher: Searcher,
    questions: Sequence[Question],
    modes: Sequence[str] = MODES,
    depth: int = 30,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Metrics per mode; ``depth`` passages are retrieved so ten distinct articles can be ranked."""
    titles: dict[str, list[str]] = {}
    for a in searcher.store.articles().values():
        titles.setdefault(a.title, []).append(a.id)
    unknown = [q for q in questions if not _gold(q, titles)]
    if unknown:
        raise QAError(
            f"{len(unknown)} questions name an article not in the index, e.g. {unknown[0].article_title or unknown[0].article_id!r}"
        )
    started = time.perf_counter()
    vectors = searcher.encode_queries([q.question for q in questions])
    results: dict[str, Any] = {}
    per_mode: dict[str, dict[str, list[float]]] = {
        m: {"rank": [], "a1": [], "a3": []} for m in modes
    }
    failures: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    for i, q in enumerate(questions):
        gold = _gold(q, titles)
        for mode in modes:
            hits = searcher.search(q.question, top_k=depth, mode=mode, query_vector=vectors[i])  # type: ignore[arg-type]
            ranking = article_ranking(hits)[:10]
            rank = next((r for r, aid in enumerate(ranking, 1) if aid in gold), 0)
            # Whitespace and script (traditional/simplified) are ignored when matching the answer.
            ans = compact(fold(q.answer))
            in1 = bool(ans) and any(ans in compact(fold(h.passage.text)) for h in hits[:1])
            in3 = bool(ans) and any(ans in compact(fold(h.passage.text)) for h in hits[:3])
            per_mode[mode]["rank"].append(rank)
            per_mode[mode]["a1"].append(in1)
            per_mode[mode]["a3"].append(in3)
            if rank != 1 and len(failures[mode]) < 50:
                failures[mode].append(
                    {
                        "question": q.question,
                        "gold": sorted(gold)[:3],
                        "got": ranking[:3],
                        "rank": rank,
                    }
                )
        if progress:
            progress(1)
    languages = sorted({q.lang for q in questions if q.lang})
    for mode, m in per_mode.items():
        ranks = np.array(m["rank"])
        by_language = {
            lang: {
                "questions": int(sum(q.lang == lang for q in questions)),
                "recall@1": float(
                    np.mean(
                        [
                            r == 1
                            for q, r in zip(questions, m["rank"], strict=True)
                            if q.lang == lang
                        ]
                    )
                ),
            }
            for lang in languages
        }
        results[mode] = {
            **{f"recall@{k}": float(np.mean((ranks >= 1) & (ranks <= k))) for k in KS},
            "recall_curve": [float(np.mean((ranks >= 1) & (ranks <= k))) for k in range(1, 11)],
            "mrr@10": float(np.mean(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0))),
            "answer_in_top1": float(np.mean(m["a1"])),
            "answer_in_top3": float(np.mean(m["a3"])),
            **({"by_language": by_language} if by_language else {}),
            "failures": failures[mode],
        }
    return {
        "questions": len(questions),
        **searcher.stats(),
        "seconds": round(time.perf_counter() - started, 1),
        "modes": results,
    }


def plot(report: dict[str, Any], path: Path, title: str) -> None:
    """Recall@k curves per mode, to PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    labels = {"fused": "fused (RRF)", "dense": "dense (FAISS)", "lexical": "BM25 (jieba)"}
    for mode, m in report["modes"].items():
        ax.plot(
            range(1, 11),
            m["recall_curve"],
            marker="o",
            label=f"{labels.get(mode, mode)}  R@1={m['recall@1']:.3f}",
        )
    ax.set_xlabel("k (articles)")
    ax.set_ylabel("recall@k")
    ax.set_title(title)
    ax.set_xticks(range(1, 11))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def summary_table(report: dict[str, Any]) -> str:
    rows = [
        "| mode | R@1 | R@3 | R@5 | R@10 | MRR@10 | answer in top-1 | answer in top-3 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, m in report["modes"].items():
        rows.append(
            f"| {mode} | {m['recall@1']:.3f} | {m['recall@3']:.3f} | {m['recall@5']:.3f} | {m['recall@10']:.3f} "
            f"| {m['mrr@10']:.3f} | {m['answer_in_top1']:.3f} | {m['answer_in_top3']:.3f} |"
        )
    fused = report["modes"].get("fused", {})
    if fused.get("by_language"):
        rows.append("")
        rows.append(
            "fused R@1 by language: "
            + ", ".join(
                f"{lang} {v['recall@1']:.3f} ({v['questions']})"
                for lang, v in fused["by_language"].items()
            )
        )
    return "\n".join(rows)


def holds_gold(ans: Answer, golds: Sequence[str]) -> tuple[bool, bool]:
    """Whether a found answer's short answer, and its whole text, hold one of the gold strings
    (folded: traditional / simplified, widths and spaces do not count)."""
    if not ans.found:
        return False, False
    folded = [compact(fold(g)) for g in golds]
    short = compact(fold(ans.short_answer or ""))
    text = compact(fold(ans.text))
    return bool(short) and any(g in short for g in folded), any(g in text for g in folded)


def evaluate_answers(
    searcher: Searcher,
    answerer: Answerer | None,
    questions: Sequence[Question],
    top_k: int = 3,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Answers as the service gives them: short-answer EM and F1 (CMRC 2018 metric, percent, best
    over the gold answers; a question not found scores 0), how often the short answer and the
    answer text hold the gold string, the found rate and the time per answer."""
    from qa.reader.metrics import exact, f1

    ems, f1s, short_holds, text_holds, found, times = [], [], [], [], [], []
    misses: list[dict[str, Any]] = []
    for q in questions:
        t0 = time.perf_counter()
        ans = answer_messages(searcher, [Message("user", q.question)], top_k, answerer)
        times.append(time.perf_counter() - t0)
        golds = q.golds
        short = ans.short_answer or "" if ans.found else ""
        ems.append(exact(fold(short), [fold(g) for g in golds]))
        f1s.append(f1(fold(short), [fold(g) for g in golds]))
        in_short, in_text = holds_gold(ans, golds)
        short_holds.append(in_short)
        text_holds.append(in_text)
        found.append(ans.found)
        if not text_holds[-1] and len(misses) < 100:
            misses.append(
                {"question": q.question, "gold": golds[:3], "short": short, "found": ans.found}
            )
        if progress:
            progress(1)
    ms = np.array(times) * 1000
    return {
        "questions": len(questions),
        "method": getattr(answerer, "method", "heuristic"),
        "em": round(100 * float(np.mean(ems)), 2) if ems else 0.0,
        "f1": round(100 * float(np.mean(f1s)), 2) if f1s else 0.0,
        "short_answer_holds_gold": round(float(np.mean(short_holds)), 4) if ems else 0.0,
        "answer_text_holds_gold": round(float(np.mean(text_holds)), 4) if ems else 0.0,
        "found": round(float(np.mean(found)), 4) if ems else 0.0,
        "ms_p50": round(float(np.percentile(ms, 50)), 1) if ems else 0.0,
        "ms_p95": round(float(np.percentile(ms, 95)), 1) if ems else 0.0,
        "misses": misses,
    }
