"""One-article edit against re-indexing the unchanged corpus, on the embedded store at 100k
passages, in one run (bench/results/edit.json); then a removal, and an edit forced to compact
(the worst case: every live row rewritten into one segment, the HNSW graph built afresh).

The corpus is the synthetic one of `bench.run` (CMRC 2018 articles repeated with variations, real
content hashes and kept tokens, so `qa index` reuses every embedding and every token list).

    python -m bench.edit [--size 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace

from bench.run import reindex_at_scale
from bench.synthetic import make_from_cmrc, variants
from qa import store
from qa.config import ROOT, Settings
from qa.embed import SentenceTransformerEmbedder
from qa.indexer import build
from qa.stores import files
from qa.tokens import tokenize


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=100_000)
    args = ap.parse_args()
    settings = Settings.from_env()
    emb = SentenceTransformerEmbedder.from_settings(settings)
    d = ROOT / "embeddings" / f"bench-edit-{args.size}"
    shutil.rmtree(d, ignore_errors=True)
    t = time.perf_counter()
    made, base_articles = make_from_cmrc(args.size, d, emb)
    print(json.dumps(made), f"{time.perf_counter() - t:.1f} s", flush=True)
    corpus = variants(base_articles, args.size)
    r = reindex_at_scale(emb, corpus, d, "hnsw")
    r["ratio"] = round(r["one_article_changed_s"] / r["unchanged_s"], 2)
    live = store.load(d, tokenize)
    r["segments_after_edit"] = len(live.manifest["segments"])
    r["deleted_rows_after_edit"] = int(len(live.deleted))
    # removing one article, then the worst case: an edit that compacts (a fresh HNSW graph)
    t = time.perf_counter()
    build([], d, emb, index_type="hnsw", remove=[corpus[1].id], progress=False)
    r["one_article_removed_s"] = time.perf_counter() - t
    files.COMPACT_ABOVE = 0.0
    t = time.perf_counter()
    edited = replace(corpus[2], text=corpus[2].text + "再补充一句。")
    build([edited], d, emb, index_type="hnsw", progress=False)
    r["compacting_edit_s"] = time.perf_counter() - t
    r["segments_after_compaction"] = len(store.load(d, tokenize).manifest["segments"])
    print(json.dumps(r), flush=True)
    out = ROOT / "bench" / "results" / "edit.json"
    out.write_text(json.dumps({"passages": made["passages"], **r}, indent=2), "utf-8")
    shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
