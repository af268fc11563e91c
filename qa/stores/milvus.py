"""The Milvus store: one collection of passages (dense vector + BM25 sparse field computed by
Milvus from our jieba tokens) and one of articles, by stable ids.

``QA_MILVUS_URI`` is a file path (milvus-lite, embedded) or ``http://host:19530`` (a Milvus
server; ``QA_MILVUS_TOKEN`` for a secured one). Both rankings come from Milvus; they are fused in
the Searcher exactly as the files store's are, so every hit keeps its dense, lexical and fused
scores (Milvus's own hybrid search returns only the fused one). Text is folded to simplified
before Milvus sees it, so traditional and simplified still meet.

BM25 reads the files store's tokens: the passage's title and text are cut by ``qa.tokens`` (our
jieba, its user dictionary, folding and stopwords) and stored space-separated in ``search_text``,
which Milvus's BM25 function splits on whitespace; questions are cut the same way. Milvus's own
jieba analyzer has another dictionary and moved 3 of 171 seed questions off the files store's
passage at rank 1. Milvus's BM25 is Lucene's times (k1 + 1); the scores shown are divided by it,
so a hit's lexical score is the same number on both stores.

The multilingual field (``qa.multilingual``), when the index has one, is a second vector field
(``ml``) with its own content hash (``ml_hash``) for the embedding cache; adding, dropping or
changing it is another schema, so the write makes the collection anew (the vectors it held were
read back first: nothing is encoded again). Writes are upserts and deletes
by passage id: an edited article touches only its own passages, and stored vectors are reused by
content hash, so unchanged passages are never encoded again.

Consistency: an edit upserts the article's new passages first and deletes its stale ones after,
so a reader never finds the article missing, but may for a moment see both. A failure in the
middle leaves the previous passages of that article beside some new ones; running ``qa index``
again completes it (the writes are idempotent).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from qa import tokens
from qa.errors import IndexError_, NotFound
from qa.lexical import K1, Tokenizer
from qa.models import Article, Passage
from qa.stores.base import Change, Filters, Mode, Retrieved

log = logging.getLogger(__name__)
# milvus-lite's bundled gRPC server logs every call it does not implement as an ERROR with a
# traceback (AllocTimestamp, on each write); they are harmless
logging.getLogger("grpc._server").setLevel(logging.CRITICAL)

F = TypeVar("F", bound=Callable[..., Any])
BATCH = 500
# articles whose stored passage ids one query reads (well under Milvus's 16,384-row result cap)
ARTICLES_PER_QUERY = 100
ARTICLE_PART_CHARS = 16_000  # a VARCHAR holds 65,535 bytes: 16k CJK characters fit
MAX_TEXT_BYTES = 16_384
META = "__qa_meta__"  # the articles collection's row that records the model and dimension


def _guarded(fn: F) -> F:
    """Run a store read inside ``MilvusStore._reading`` (engine errors -> ``IndexError_``)."""

    @functools.wraps(fn)
    def wrapper(self: MilvusStore, *args: Any, **kwargs: Any) -> Any:
        with self._reading():
            return fn(self, *args, **kwargs)

    return cast(F, wrapper)


def _quote(values: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


def expression(filters: Filters | None) -> str:
    """Filters as a Milvus boolean expression ("" for none)."""
    if filters is None:
        return ""
    parts = []
    if filters.sources is not None:
        parts.append(f"source in {_quote(filters.sources)}")
    if filters.article_ids is not None:
        parts.append(f"article_id in {_quote(filters.article_ids)}")
    return " or ".join(parts)


# the tokens arrive cut (``search_text``); Milvus only splits them
ANALYZER = {"tokenizer": "whitespace"}
SCHEMA = 2  # 1: Milvus's jieba analyzer over the raw text
LUCENE = 1.0 + K1  # Milvus's BM25 over Lucene's (the files store's)


def _floats(v: np.ndarray) -> list[float]:
    return cast(list[float], np.asarray(v, dtype=np.float32).tolist())


def joined(words: Iterable[str]) -> str:
    return " ".join(w for w in words if w and not w.isspace())


class MilvusView:
    def __init__(self, store: MilvusStore) -> None:
        self.s = store

    def document_frequency(self, term: str) -> int | None:
        return None  # Milvus keeps its BM25 statistics to itself

    def _hits(self, result: Any) -> list[tuple[str, float]]:
        return [(h["id"] if "id" in h else h["pid"], float(h["distance"])) for h in result[0]]

    def _search(
        self, field: str, data: Any, limit: int, expr: str, metric: str
    ) -> list[tuple[str, float]]:
        res = self.s.client.search(
            self.s.passages,
            data=[data],
            anns_field=field,
            limit=limit,
            filter=expr,
            search_params={"metric_type": metric},
        )
        return self._hits(res)

    def _bm25(self, words: str, limit: int, expr: str) -> list[tuple[str, float]]:
        """BM25 hits as the files store scores them: milvus-lite reports the score negated, and
        Milvus's BM25 is Lucene's times (k1 + 1)."""
        return [
            (pid, abs(s) / LUCENE) for pid, s in self._search("sparse", words, limit, expr, "BM25")
        ]

    def retrieve(
        self,
        query: str,
        qv: np.ndarray | None,
        n: int,
        filters: Filters | None,
        mode: Mode,
        mv: np.ndarray | None = None,
    ) -> Retrieved:
        with self.s._reading():
            return self._retrieve(query, qv, n, expression(filters), mode, mv, filters is not None)

    def _retrieve(
        self, query: str, qv: Any, n: int, expr: str, mode: Mode, mv: Any, filtered: bool
    ) -> Retrieved:
        s = self.s
        out = Retrieved()
        words = joined(dict.fromkeys(s.tokenizer(query)))  # Milvus would count repeats twice
        if mode != "lexical":
            assert qv is not None
            for pid, score in self._search("dense", _floats(qv), n, expr, "IP"):
                out.dense.append(pid)
                out.dense_scores[pid] = score
        if mode != "dense" and words:
            for pid, score in self._bm25(words, n, expr):
                out.lexical.append(pid)
                out.lexical_scores[pid] = score
        if mode == "fused" and mv is not None and s.ml_model:
            for pid, score in self._search("ml", _floats(mv), n, expr, "IP"):
                out.multilingual.append(pid)
                out.multilingual_scores[pid] = score
        if mode == "fused":
            self._complete(out, qv, mv, words)
        if filtered and not out.dense and not out.lexical:
            out.empty = True
        return out

    def _complete(
        self, out: Retrieved, qv: np.ndarray | None, mv: np.ndarray | None, words: str
    ) -> None:
        """Every candidate of any ranking gets every score (what score fusion needs): vectors
        read back by id for the cosines, a BM25 search restricted to the ids for the rest."""
        keys = [str(k) for k in dict.fromkeys([*out.dense, *out.lexical, *out.multilingual])]
        fields = {"dense": (qv, out.dense_scores)}
        if out.multilingual and mv is not None:
            fields["ml"] = (mv, out.multilingual_scores)
        wanted = {f: [k for k in keys if k not in scores] for f, (v, scores) in fields.items()}
        needed = [f for f, ks in wanted.items() if ks and fields[f][0] is not None]
        if needed:
            ids = sorted({k for f in needed for k in wanted[f]})
            rows = self.s.client.query(
                self.s.passages, filter=f"pid in {_quote(ids)}", output_fields=["pid", *needed]
            )
            for row in rows:
                for f in needed:
                    vec, scores = fields[f]
                    assert vec is not None
                    if row["pid"] not in scores:
                        scores[row["pid"]] = float(np.asarray(row[f], dtype=np.float32) @ vec)
        need_lexical = [k for k in keys if k not in out.lexical_scores]
        if need_lexical and words:
            expr = f"pid in {_quote(need_lexical)}"
            out.lexical_scores.update(self._bm25(words, len(need_lexical), expr))
        for missing in need_lexical:
            out.lexical_scores.setdefault(missing, 0.0)

    def fetch(self, keys: Sequence[Hashable]) -> list[tuple[Passage, Article]]:
        with self.s._reading():
            return self._fetch(keys)

    def _fetch(self, keys: Sequence[Hashable]) -> list[tuple[Passage, Article]]:
        s = self.s
        ids = [str(k) for k in keys]
        if not ids:
            return []
        by_id = {p.id: p for p in s.query_passages(f"pid in {_quote(ids)}")}
        articles = s.get_articles({p.article_id for p in by_id.values()})
        return [(by_id[pid], articles[by_id[pid].article_id]) for pid in ids]


class MilvusStore:
    """Passages and articles in a Milvus instance (see the module docstring)."""

    name = "milvus"

    def __init__(
        self,
        uri: str,
        collection: str,
        model: str,
        dim: int,
        token: str = "",
        tokenizer: Tokenizer = tokens.tokenize,
    ) -> None:
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise IndexError_(
                "QA_STORE=milvus needs the milvus extra: pip install -e '.[milvus]'"
            ) from None
        self.uri = uri
        self.model = model
        self.dim = dim
        self.tokenizer = tokenizer
        # the multilingual field (``qa.multilingual``): its model and width, from the stored meta
        self.ml_model = ""
        self.ml_dim = 0
        self.passages = collection
        self.articles_name = f"{collection}_articles"
        self.lite = "://" not in uri
        if self.lite:  # milvus-lite: a file; its folder may not exist yet
            Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
            present = self.client.has_collection(self.passages)
        except Exception as e:  # the client raises many kinds; name the store and the fix
            raise IndexError_(
                f"Milvus at {uri!r} does not answer ({type(e).__name__}: {e}); check "
                "QA_MILVUS_URI (a file path runs milvus-lite, http://host:19530 a server)"
            ) from None
        if present:
            with self._reading():
                self._load()
                self._take_fields(self._check())

    def _load(self) -> None:
        """Collections written by another process start released; load them for reading."""
        for name in (self.passages, self.articles_name):
            if self.client.has_collection(name):
                self.client.load_collection(name)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Engine errors while reading become one clear error naming the store."""
        try:
            yield
        except (IndexError_, NotFound):
            raise
        except Exception as e:
            raise IndexError_(
                f"Milvus collection {self.passages!r} at {self.uri!r} cannot be read "
                f"({type(e).__name__}: {e}); check that the server is up and the collection "
                "exists (`qa index` with QA_STORE=milvus builds it)"
            ) from None

    # -- schema ----------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        return tokens.fingerprint() if self.tokenizer is tokens.tokenize else ""

    def _meta(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dim": self.dim,
            "schema": SCHEMA,
            "tokenizer": self._fingerprint(),
            "ml_model": self.ml_model,
            "ml_dim": self.ml_dim,
        }

    def _take_fields(self, meta: Mapping[str, Any]) -> None:
        self.ml_model = str(meta.get("ml_model") or "")
        self.ml_dim = int(meta.get("ml_dim") or 0)

    def _write_meta(self) -> None:
        row = {"key": f"{META}:0", "article_id": META, "part": 0, "v": [0.0, 0.0]}
        self.client.upsert(self.articles_name, [{**row, "data": json.dumps(self._meta())}])

    def _stored_meta(self) -> dict[str, Any]:
        if not self.client.has_collection(self.articles_name):
            return {}
        rows = self.client.query(
            self.articles_name, filter=f'article_id == "{META}"', output_fields=["data"]
        )
        try:
            return cast(dict[str, Any], json.loads(rows[0]["data"])) if rows else {}
        except ValueError:
            return {}

    def _check(self) -> dict[str, Any]:
        """The stored meta, after checking the collection fits this model and analyzer."""
        meta = self._stored_meta()
        if meta.get("schema") != SCHEMA:
            raise IndexError_(
                f"Milvus collection {self.passages!r} at {self.uri!r} was written by an older "
                f"version (schema {meta.get('schema')}: Milvus's own jieba analyzer); re-index "
                "with `qa index --rebuild`"
            )
        if meta.get("model") != self.model or meta.get("dim") != self.dim:
            raise IndexError_(
                f"Milvus collection {self.passages!r} at {self.uri!r} was built with model "
                f"{meta.get('model')!r} (dimension {meta.get('dim')}), the configured model is "
                f"{self.model!r} ({self.dim}); re-index with `qa index --rebuild` or set "
                "QA_MILVUS_COLLECTION to another collection"
            )
        if meta.get("tokenizer") != self._fingerprint():
            log.warning(
                "Milvus collection %r was tokenized with another user dictionary; BM25 scores "
                "differ from the files store's until `qa index` writes it again",
                self.passages,
            )
        return meta

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        schema = c.create_schema(auto_id=False)
        schema.add_field("pid", DataType.VARCHAR, is_primary=True, max_length=128)
        schema.add_field("article_id", DataType.VARCHAR, max_length=128)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("ordinal", DataType.INT64)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("hash", DataType.VARCHAR, max_length=64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
        schema.add_field(
            "search_text",
            DataType.VARCHAR,
            max_length=MAX_TEXT_BYTES,
            enable_analyzer=True,
            analyzer_params=ANALYZER,
        )
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        if self.ml_model:  # the multilingual field: a second dense vector, cached by its own hash
            schema.add_field("ml_hash", DataType.VARCHAR, max_length=64)
            schema.add_field("ml", DataType.FLOAT_VECTOR, dim=self.ml_dim)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["search_text"],
                output_field_names=["sparse"],
            )
        )
        idx = c.prepare_index_params()
        # milvus-lite searches exactly; a server builds an HNSW graph (AUTOINDEX)
        kind = "FLAT" if self.lite else "AUTOINDEX"
        idx.add_index("dense", index_type=kind, metric_type="IP")
        if self.ml_model:
            idx.add_index("ml", index_type=kind, metric_type="IP")
        idx.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        c.create_collection(self.passages, schema=schema, index_params=idx)

        art = c.create_schema(auto_id=False)
        art.add_field("key", DataType.VARCHAR, is_primary=True, max_length=160)
        art.add_field("article_id", DataType.VARCHAR, max_length=128)
        art.add_field("part", DataType.INT64)
        art.add_field("data", DataType.VARCHAR, max_length=65_535)
        art.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        aidx = c.prepare_index_params()
        aidx.add_index("v", index_type="FLAT", metric_type="L2")
        c.create_collection(self.articles_name, schema=art, index_params=aidx)
        self._write_meta()  # which model, dimension and tokens: checked on every open

    def _ready(self) -> bool:
        return bool(self.client.has_collection(self.passages))

    # -- reads -----------------------------------------------------------------------------

    def snapshot(self) -> MilvusView:
        if not self._ready():
            raise IndexError_(
                f"Milvus collection {self.passages!r} at {self.uri!r} does not exist (dropped, or "
                "never built); run `qa index` with QA_STORE=milvus"
            )
        return MilvusView(self)

    def refresh(self) -> bool:
        return False  # Milvus serves every write as it lands

    def version(self) -> str:
        return f"milvus:{self.passages}"

    def layout(self) -> str:
        return "milvus"

    def multilingual_model(self) -> str:
        return self.ml_model

    @_guarded
    def stats(self) -> dict[str, int | str]:
        if not self._ready():
            raise IndexError_(f"Milvus collection {self.passages!r} does not exist")
        passages = int(
            self.client.query(self.passages, filter="", output_fields=["count(*)"])[0]["count(*)"]
        )
        parts = self.client.query(
            self.articles_name,
            filter=f'part == 0 and article_id != "{META}"',
            output_fields=["count(*)"],
        )
        return {"articles": int(parts[0]["count(*)"]), "passages": passages, "model": self.model}

    @_guarded
    def get_articles(self, ids: set[str]) -> dict[str, Article]:
        out: dict[str, Article] = {}
        ids_list = sorted(ids)
        for s in range(0, len(ids_list), BATCH):
            rows = self.client.query(
                self.articles_name,
                filter=f"article_id in {_quote(ids_list[s : s + BATCH])}",
                output_fields=["article_id", "part", "data"],
            )
            out.update(self._join(rows))
        return out

    @staticmethod
    def _join(rows: list[dict[str, Any]]) -> dict[str, Article]:
        parts: dict[str, list[tuple[int, str]]] = {}
        for r in rows:
            parts.setdefault(r["article_id"], []).append((int(r["part"]), r["data"]))
        return {
            aid: Article(**json.loads("".join(d for _, d in sorted(ps))))
            for aid, ps in parts.items()
        }

    @_guarded
    def article(self, article_id: str) -> Article:
        found = self.get_articles({article_id})
        if article_id not in found:
            raise NotFound(f"no article with id {article_id!r}")
        return found[article_id]

    def _iterate(self, collection: str, fields: list[str], expr: str = "") -> Iterator[dict]:
        it = self.client.query_iterator(
            collection, batch_size=1000, filter=expr, output_fields=fields
        )
        try:
            while True:
                batch = it.next()
                if not batch:
                    return
                yield from batch
        finally:
            it.close()

    @_guarded
    def articles(self) -> Mapping[str, Article]:
        fields = ["article_id", "part", "data"]
        rows = list(self._iterate(self.articles_name, fields, f'article_id != "{META}"'))
        return self._join(rows)

    def query_passages(self, expr: str) -> list[Passage]:
        """The passages matching a Milvus expression, as Passages."""
        rows = self.client.query(
            self.passages,
            filter=expr,
            output_fields=["pid", "article_id", "ordinal", "text", "start", "end"],
        )
        return [
            Passage(
                r["pid"],
                r["article_id"],
                int(r["ordinal"]),
                r["text"],
                int(r["start"]),
                int(r["end"]),
            )
            for r in rows
        ]

    @_guarded
    def passages_of(self, article_id: str) -> list[Passage]:
        expr = f"article_id == {json.dumps(article_id, ensure_ascii=False)}"
        return sorted(self.query_passages(expr), key=lambda p: p.ordinal)

    def passage_size(self) -> list[int] | None:
        return None  # not recorded: edits split only the articles they touch

    @_guarded
    def count_passages(self, article_ids: Iterable[str]) -> int:
        if not self._ready():
            return 0
        ids = sorted(set(article_ids))
        total = 0
        for s in range(0, len(ids), BATCH):
            got = self.client.query(
                self.passages,
                filter=f"article_id in {_quote(ids[s : s + BATCH])}",
                output_fields=["count(*)"],
            )
            total += int(got[0]["count(*)"])
        return total

    @_guarded
    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if not self._ready():
            return {}
        out: dict[str, np.ndarray] = {}
        unique = sorted(set(hashes))
        # the hashes name their model, so one dict holds both fields' vectors
        fields = [("hash", "dense"), *([("ml_hash", "ml")] if self.ml_model else [])]
        for key, vector in fields:
            for s in range(0, len(unique), BATCH):
                rows = self.client.query(
                    self.passages,
                    filter=f"{key} in {_quote(unique[s : s + BATCH])}",
                    output_fields=[key, vector],
                )
                for r in rows:
                    out[r[key]] = np.asarray(r[vector], dtype=np.float32)
        return out

    # -- writes ----------------------------------------------------------------------------

    def write(self, change: Change) -> None:
        c = self.client
        ml_model = (
            str(change.manifest.get("ml_model") or "") if change.ml_vectors is not None else ""
        )
        try:
            # another multilingual field (added, dropped, another model) is another schema: the
            # collection is made anew from the change, which then holds every passage (its
            # vectors were read from this collection's cache first: nothing is encoded again)
            other_fields = self._ready() and ml_model != self.ml_model and not change.partial
            if (change.rebuild or other_fields) and self._ready():
                c.drop_collection(self.passages)
                c.drop_collection(self.articles_name)
            fresh = not self._ready()
            if fresh:
                if change.partial:
                    raise IndexError_("an incremental change needs a live collection to apply to")
                self.ml_model = ml_model
                self.ml_dim = (
                    int(change.ml_vectors.shape[1]) if change.ml_vectors is not None else 0
                )
                self._create()
                todo = set(change.articles)
            else:
                stored = self._check()
                todo = set(change.changed)
                if stored.get("tokenizer") != self._fingerprint():
                    if change.partial:
                        raise IndexError_(
                            "the user dictionary changed since this Milvus collection was "
                            "written: `qa index --rebuild` tokenizes every passage again"
                        )
                    todo = set(change.articles)  # every passage's tokens are cut again
                    self._write_meta()
            rows = []
            keep: dict[str, set[str]] = {}  # the passage ids written, by article
            for i, (p, h, v) in enumerate(
                zip(change.passages, change.hashes, change.vectors, strict=True)
            ):
                if p.article_id not in todo:
                    continue
                a = change.articles[p.article_id]
                keep.setdefault(p.article_id, set()).add(p.id)
                rows.append(
                    {
                        "pid": p.id,
                        "article_id": p.article_id,
                        "source": a.source,
                        "ordinal": p.ordinal,
                        "start": p.start,
                        "end": p.end,
                        "hash": h,
                        "text": p.text,
                        "search_text": joined(self.tokenizer(f"{a.title}\n{p.text}")),
                        "dense": np.asarray(v, dtype=np.float32).tolist(),
                    }
                )
                if self.ml_model:
                    assert change.ml_vectors is not None and change.ml_hashes is not None
                    rows[-1]["ml_hash"] = change.ml_hashes[i]
                    rows[-1]["ml"] = np.asarray(change.ml_vectors[i], dtype=np.float32).tolist()
            for s in range(0, len(rows), BATCH):
                c.upsert(self.passages, rows[s : s + BATCH])
            art_rows = []
            for aid in sorted(todo):
                data = json.dumps(change.articles[aid].to_dict(), ensure_ascii=False)
                pieces = [
                    data[i : i + ARTICLE_PART_CHARS]
                    for i in range(0, len(data), ARTICLE_PART_CHARS)
                ]
                art_rows += [
                    {
                        "key": f"{aid}:{k}",
                        "article_id": aid,
                        "part": k,
                        "data": piece,
                        "v": [0.0, 0.0],
                    }
                    for k, piece in enumerate(pieces)
                ]
            for s in range(0, len(art_rows), BATCH):
                c.upsert(self.articles_name, art_rows[s : s + BATCH])
            # stale passages of edited articles (they may have fewer now; a new collection has
            # none): their stored ids are read in batches and the ones not written again deleted
            # by id (one delete per article was one scan per article: 100k passages never ended)
            edited = [] if fresh else sorted(todo & change.changed)
            for s in range(0, len(edited), ARTICLES_PER_QUERY):
                stored = c.query(
                    self.passages,
                    filter=f"article_id in {_quote(edited[s : s + ARTICLES_PER_QUERY])}",
                    output_fields=["pid", "article_id"],
                )
                stale = [r["pid"] for r in stored if r["pid"] not in keep.get(r["article_id"], ())]
                for k in range(0, len(stale), BATCH):
                    c.delete(self.passages, filter=f"pid in {_quote(stale[k : k + BATCH])}")
            gone = sorted(change.removed)
            for s in range(0, len(gone), BATCH):
                chunk = _quote(gone[s : s + BATCH])
                c.delete(self.passages, filter=f"article_id in {chunk}")
                c.delete(self.articles_name, filter=f"article_id in {chunk}")
        except IndexError_:
            raise
        except Exception as e:
            raise IndexError_(
                f"writing to Milvus collection {self.passages!r} at {self.uri!r} failed "
                f"({type(e).__name__}: {e}); the previous passages of the articles being written "
                "may still be there beside new ones: run `qa index` again to complete it"
            ) from None
