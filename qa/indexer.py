"""Articles -> a new index version, reusing every embedding whose passage text has not changed."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qa import store
from qa.dense import choose_type
from qa.embed import Embedder
from qa.errors import IndexError_
from qa.ingest import Skipped
from qa.models import Article, Passage
from qa.split import split_article
from qa.stores.base import Change, Store
from qa.stores.files import FilesStore
from qa.tokens import simplified, tokenize

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    articles: int = 0
    passages: int = 0
    encoded: int = 0
    reused: int = 0
    ml_model: str = ""  # the multilingual field, when built
    ml_encoded: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    seconds: float = 0.0
    written: bool = False
    index_type: str = ""
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> str:
        state = "written" if self.written else "already up to date, nothing written"
        ml = f"; multilingual {self.ml_model}: encoded {self.ml_encoded}" if self.ml_model else ""
        return (
            f"{self.articles} articles, {self.passages} passages ({self.index_type}); "
            f"encoded {self.encoded}, reused {self.reused}{ml}; added {self.added}, updated {self.updated}, "
            f"removed {self.removed}, unchanged {self.unchanged}; {len(self.skipped)} skipped; "
            f"{self.seconds:.1f} s; {state}"
        )


def embed_text(article: Article, passage: Passage) -> str:
    """What the embedder sees: the title in front of the passage (title enhancement), in
    simplified script so traditional and simplified text meet in one space."""
    return simplified(f"{article.title}\n{passage.text}")


def content_hash(model: str, prefix: str, text: str) -> str:
    return hashlib.sha1(f"{model}\x1f{prefix}\x1f{text}".encode()).hexdigest()


def _previous(index_dir: Path, model: str) -> store.Index | None:
    try:
        old = store.load(index_dir, tokenize, mmap=True)
    except IndexError_ as e:
        if store.current_version(index_dir) is not None and "schema 1 " not in str(e):
            log.warning("previous index not reusable (%s); building from scratch", e)
        return None
    if old.model != model:
        log.warning("previous index used model %r; every passage is encoded again", old.model)
        return None
    return old


def folder_store(index_dir: Path, embedder: Embedder, rebuild: bool = False) -> FilesStore:
    """The files store at ``index_dir`` with its live version, when that one can be reused (or
    with the embeddings of a version in the older layout, which the next write replaces)."""
    old = None if rebuild else _previous(index_dir, embedder.model_id)
    out = FilesStore(index_dir, tokenize, embedder.model_id, embedder.dim, index=old)
    if old is None and not rebuild:
        out.legacy = store.legacy_vectors(index_dir)
        if out.legacy:
            log.warning(
                "the index in %s is in an older layout: writing it anew, reusing its %d embeddings",
                index_dir,
                len(out.legacy),
            )
    return out


def build(
    articles: Iterable[Article],
    index_dir: Path | None,
    embedder: Embedder,
    *,
    prune: bool = False,
    remove: Iterable[str] = (),
    index_type: str = "auto",
    passage_min: int = 150,
    passage_max: int = 350,
    rebuild: bool = False,
    progress: bool = True,
    on_encoded: Callable[[int], None] | None = None,
    target: Store | None = None,
    multilingual: Embedder | None = None,
    multilingual_limit: int | None = None,
) -> IndexReport:
    """Merge articles into the store (the folder store at index_dir unless ``target`` is given)
    and write a new version if anything changed; unchanged passages are never encoded again.

    With ``multilingual`` the store also gets that model's vectors (a second dense field, cached
    by hash the same way); adding the field to an index never encodes the first model again.
    """
    started = time.perf_counter()
    report = IndexReport()
    if target is None:
        if index_dir is None:
            raise ValueError("build needs an index_dir or a target store")
        target = folder_store(index_dir, embedder, rebuild)
    has_data = int(target.stats().get("passages", 0)) if _has_state(target) else 0
    previous: Mapping[str, Article] = target.articles() if has_data and not rebuild else {}
    merged: dict[str, Article] = dict(previous)
    incoming: dict[str, Article] = {}
    for a in articles:
        incoming[a.id] = a
    changed_ids: set[str] = set()
    for aid, a in incoming.items():
        if aid not in merged:
            report.added += 1
            changed_ids.add(aid)
        elif merged[aid].checksum != a.checksum:
            report.updated += 1
            changed_ids.add(aid)
        else:
            report.unchanged += 1
        merged[aid] = a
    doomed = set(remove)
    if prune:
        doomed |= set(merged) - set(incoming)
    removed_ids = set()
    for aid in doomed:
        if merged.pop(aid, None) is not None:
            report.removed += 1
            removed_ids.add(aid)

    changed = report.added or report.updated or report.removed
    splits: dict[str, list[Passage]] = {}  # each article is split once, for the count and the build

    def pieces(a: Article) -> list[Passage]:
        if a.id not in splits:
            splits[a.id] = split_article(a, passage_min, passage_max)
        return splits[a.id]

    if (
        multilingual is not None
        and multilingual_limit is not None
        and _passage_count(target, has_data, rebuild, merged, changed_ids, removed_ids, pieces)
        > multilingual_limit
    ):
        log.warning(
            "multilingual field left out: over %d passages (QA_MULTILINGUAL=auto; "
            "QA_MULTILINGUAL=on builds it anyway, at about 4 passages a second)",
            multilingual_limit,
        )
        multilingual = None
    ml_id = multilingual.model_id if multilingual is not None else ""
    same_fields = not has_data or target.multilingual_model() == ml_id
    # With the same fields, only added and edited articles are split and encoded: the store keeps
    # the rest as it holds them (``Change.partial``).
    stored_size = target.passage_size() if has_data else None
    same_split = stored_size is None or list(stored_size) == [passage_min, passage_max]
    partial = bool(has_data) and not rebuild and same_fields and same_split
    todo = [a for aid, a in merged.items() if aid in changed_ids] if partial else merged.values()
    passages: list[Passage] = []
    owners: list[Article] = []
    for a in todo:
        for p in pieces(a):
            passages.append(p)
            owners.append(a)
    total = len(passages)
    if partial:
        total += int(has_data) - target.count_passages(changed_ids | removed_ids)
    kind = choose_type(total, index_type) if target.name == "files" else target.name
    report.articles, report.passages, report.index_type = len(merged), total, kind
    if partial and not changed and target.layout() in (kind, ""):
        report.reused = total
        report.seconds = time.perf_counter() - started
        return report

    prefix = getattr(embedder, "passage_prefix", "")
    texts = [embed_text(a, p) for a, p in zip(owners, passages, strict=True)]
    hashes = [content_hash(embedder.model_id, prefix, t) for t in texts]
    ml_hashes = (
        None
        if multilingual is None
        else [content_hash(multilingual.model_id, "", t) for t in texts]
    )
    # one look-up for both fields: the hashes name their model, so they never collide
    cache = {} if rebuild else target.cached_vectors([*hashes, *(ml_hashes or [])])
    vectors, report.encoded = _vectors(embedder, texts, hashes, cache, progress, on_encoded)
    report.reused = total - report.encoded
    ml_vectors = None
    if multilingual is not None and ml_hashes is not None:
        ml_vectors, report.ml_encoded = _vectors(
            multilingual, texts, ml_hashes, cache, progress, None
        )
        report.ml_model = multilingual.model_id

    manifest = {
        "model": embedder.model_id,
        "dim": embedder.dim,
        "normalized": True,
        "metric": "inner_product",
        "query_prefix": getattr(embedder, "query_prefix", ""),
        "passage_prefix": prefix,
        "index_type": kind,
        "articles": len(merged),
        "passages": total,
        "passage_size": [passage_min, passage_max],
        "corpus_checksum": store.corpus_checksum(merged),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if multilingual is not None:
        manifest |= {"ml_model": multilingual.model_id, "ml_dim": multilingual.dim}
    target.write(
        Change(
            articles=merged,
            passages=passages,
            hashes=hashes,
            vectors=vectors,
            changed=changed_ids,
            removed=removed_ids,
            manifest=manifest,
            rebuild=rebuild,
            ml_vectors=ml_vectors,
            ml_hashes=ml_hashes,
            partial=partial,
        )
    )
    report.written = True
    report.seconds = time.perf_counter() - started
    return report


def _vectors(
    embedder: Embedder,
    texts: list[str],
    hashes: list[str],
    cache: Mapping[str, np.ndarray],
    progress: bool,
    on_encoded: Callable[[int], None] | None,
) -> tuple[np.ndarray, int]:
    """One model's unit vectors for the texts, reusing cached ones by hash; and how many were
    encoded. The bar names the model, so each model's rate shows."""
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    missing: list[int] = []
    for i, h in enumerate(hashes):
        v = cache.get(h)
        if v is None or len(v) != embedder.dim:
            missing.append(i)
        else:
            vectors[i] = v
    if missing:
        name = embedder.model_id.rstrip("/").rsplit("/", 1)[-1]
        with tqdm(
            total=len(missing),
            desc=f"encoding passages ({name})",
            unit="passage",
            disable=not progress,
            smoothing=0.1,
        ) as bar:

            def tick(n: int) -> None:
                bar.update(n)
                if on_encoded:
                    on_encoded(n)

            vectors[missing] = embedder.encode_passages([texts[i] for i in missing], progress=tick)
    return vectors, len(missing)


def _passage_count(
    target: Store,
    has_data: int,
    rebuild: bool,
    merged: Mapping[str, Article],
    changed: set[str],
    removed: set[str],
    pieces: Callable[[Article], list[Passage]],
) -> int:
    """Passages after the change: the stored ones less those of edited and removed articles, plus
    the split of the edited and added ones (every article's split when nothing is stored)."""
    if not has_data or rebuild:
        return sum(len(pieces(a)) for a in merged.values())
    fresh = sum(len(pieces(merged[a])) for a in changed)
    return has_data - target.count_passages(changed | removed) + fresh


def _has_state(target: Store) -> bool:
    try:
        target.stats()
    except IndexError_:
        return False
    return True
