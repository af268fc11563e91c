"""One assembly for every entry point: settings -> tokenizer -> embedder -> store -> searcher ->
answerer. The CLI, ``qa serve``, the uvicorn factory and evaluation all build through here, so
each reads the same settings the same way (the jieba user dictionary included)."""

from __future__ import annotations

import logging
from pathlib import Path

from qa import tokens
from qa.config import Settings
from qa.embed import Embedder
from qa.errors import QAError
from qa.search import Searcher
from qa.stores.base import Store

log = logging.getLogger(__name__)


def configure(settings: Settings) -> Settings:
    """Process-wide pieces the settings ask for: the jieba user dictionary."""
    if settings.userdict is not None:
        if not settings.userdict.is_file():
            raise QAError(f"QA_USERDICT {settings.userdict} is not a file")
        tokens.configure(settings.userdict)
    return settings


def embedder(settings: Settings) -> Embedder:
    from qa.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder.from_settings(settings)


def multilingual_limit(settings: Settings) -> int | None:
    """The corpus size above which ``qa index`` leaves the multilingual field out (auto only)."""
    from qa.multilingual import AUTO_MAX_PASSAGES

    return AUTO_MAX_PASSAGES if settings.multilingual == "auto" else None


def multilingual(settings: Settings) -> Embedder | None:
    """The multilingual embedder unless the settings turn the signal off. (Under ``auto`` the
    corpus size decides where it is built and used: ``multilingual_limit`` for ``qa index``, the
    index's size in ``searcher``.)"""
    from qa.multilingual import multilingual_embedder

    if settings.multilingual == "off":
        return None
    return multilingual_embedder(settings.multilingual_model, settings.backend)


def store(settings: Settings, emb: Embedder, index_dir: Path | None = None) -> Store:
    """The configured store, opened for reading (it must hold an index)."""
    if settings.store == "milvus":
        from qa.stores.milvus import MilvusStore

        return MilvusStore(
            settings.milvus_uri,
            settings.milvus_collection,
            emb.model_id,
            emb.dim,
            settings.milvus_token,
            tokens.tokenize,
        )
    from qa.stores.files import FilesStore

    return FilesStore.open(index_dir or settings.index_dir, tokens.tokenize, emb.model_id, emb.dim)


def index_target(
    settings: Settings, emb: Embedder, rebuild: bool = False, index_dir: Path | None = None
) -> Store:
    """The configured store, opened for writing (it may be empty)."""
    if settings.store == "milvus":
        return store(settings, emb)
    from qa.indexer import folder_store

    return folder_store(index_dir or settings.index_dir, emb, rebuild)


def searcher(
    settings: Settings, emb: Embedder | None = None, index_dir: Path | None = None
) -> Searcher:
    emb = emb or embedder(settings)
    st = store(settings, emb, index_dir)
    built = st.multilingual_model()
    ml = None
    if built or settings.multilingual == "on":
        ml = multilingual(settings)
    elif settings.multilingual == "auto":
        from qa.multilingual import AUTO_MAX_PASSAGES

        if int(st.stats().get("passages", 0)) <= AUTO_MAX_PASSAGES:
            ml = multilingual(settings)
    if ml is not None and built != ml.model_id:
        log.warning(
            "the index has no multilingual field%s: questions in other languages are matched by "
            "the Chinese-only signals alone. Add it (no passage is encoded again by m3e): "
            "qa index %s",
            f" of {ml.model_id} (it has {built})" if built else "",
            settings.corpus,
        )
    return Searcher(
        st,
        emb,
        dense_weight=settings.dense_weight,
        lexical_weight=settings.lexical_weight,
        fusion=settings.fusion,
        multilingual=ml,
        multilingual_weight_zh=settings.multilingual_weight_zh,
    )
