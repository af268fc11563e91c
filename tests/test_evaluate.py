"""Evaluation input: malformed items are skipped and counted, never the end of a run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.evaluate import load_questions, load_squad


def test_squad_skips_and_counts_malformed_items(tmp_path: Path) -> None:
    raw = {
        "data": [
            {
                "title": "嘉禾县",
                "paragraphs": [
                    {
                        "id": "p1",
                        "context": "嘉禾县群众满意率达到99.67%。",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "满意率多少？",
                                "answers": [{"text": "99.67%", "answer_start": 10}],
                            },
                            {"id": "q2", "question": "", "answers": [{"text": "99.67%"}]},
                            {"id": "q3", "question": "   ", "answers": []},
                            {"id": "q4", "question": "谁？", "answers": []},
                            {"id": "q5", "question": "哪里？", "answers": [{"text": "北京"}]},
                            {"id": "q6", "question": "满意率？", "answers": [{"text": "99.67％"}]},
                        ],
                    },
                    {
                        "id": "p2",
                        "context": "",
                        "qas": [{"question": "x", "answers": [{"text": "y"}]}],
                    },
                ],
            },
            "not a document",
        ]
    }
    path = tmp_path / "trial.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    skipped: Counter[str] = Counter()
    articles, questions = load_squad(path, skipped)
    assert [a.id for a in articles] == ["p1"]
    assert [q.question for q in questions] == ["满意率多少？"]
    assert skipped == {
        "empty question": 2,
        "no answer": 1,
        "answer not in its paragraph": 2,
        "paragraph without text": 2,
    }


def test_unreadable_squad_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(QAError, match="not a readable SQuAD-style JSON"):
        load_squad(path)
    path.write_text('{"version": 1}', encoding="utf-8")
    with pytest.raises(QAError, match="no 'data' list"):
        load_squad(path)


def test_jsonl_skips_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    lines = [
        '{"question": "月租金多少？", "article_title": "骑手公寓", "answer": "550元"}',
        "{broken",
        '{"question": "", "article_title": "骑手公寓"}',
        '{"question": "没有文章？"}',
        "[1, 2]",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    skipped: Counter[str] = Counter()
    questions = load_questions(path, skipped)
    assert [q.question for q in questions] == ["月租金多少？"]
    assert skipped == {"not JSON": 1, "empty question": 1, "no article": 1, "not an object": 1}
