"""ONNX Runtime encoder for sentence-transformer models with mean or CLS pooling.

The model is exported once from the loaded sentence-transformer (pooling and normalization inside
the graph) into a bundle beside the index: ``model.onnx``, the fast tokenizer's ``tokenizer.json``
and ``meta.json``. On two cores ONNX Runtime encodes a short query in about a third of PyTorch's
time, and a service whose model is a local folder with a bundle already exported starts from the
bundle alone, without importing PyTorch or sentence-transformers (seconds of every cold start).
Any failure to export falls back to PyTorch, with a warning.

Beside the full-precision graph the bundle holds an int8 copy (dynamic quantization of the
weights, ``model.int8.onnx``) that encodes a question 2.5x faster; it is used for questions and
answer sentences only, never for the passages stored in the index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

BUNDLE_VERSION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _pooling_mode(st_model: Any) -> str | None:
    for module in st_model:
        config: dict[str, Any] = getattr(module, "get_config_dict", dict)()
        mode = config.get("pooling_mode")
        if mode is None and config.get("pooling_mode_mean_tokens"):
            mode = "mean"
        if mode is None and config.get("pooling_mode_cls_token"):
            mode = "cls"
        if mode:
            return str(mode)
    return None


def local_fingerprint(model_id: str, path: str) -> str | None:
    """A key for a model in a local folder: its id plus the bytes of its configuration files.

    None for a Hugging Face id: what it resolves to is only known once the model is loaded.
    """
    folder = Path(path)
    if not (folder / "config.json").is_file():
        return None
    h = hashlib.sha1(f"v{BUNDLE_VERSION}:{model_id}".encode())
    for name in sorted(os.listdir(folder)):
        f = folder / name
        if f.is_file() and (name.endswith(".json") or name.endswith(".txt")):
            h.update(name.encode() + b"\0" + f.read_bytes())
        elif f.is_file():  # weights: size and name, not their bytes (hundreds of MB)
            h.update(f"{name}:{f.stat().st_size}".encode())
    return h.hexdigest()[:16]


def loaded_fingerprint(model_id: str, st_model: Any) -> str:
    config = st_model[0].auto_model.config.to_json_string()
    return hashlib.sha1(f"v{BUNDLE_VERSION}:{model_id}:{config}".encode()).hexdigest()[:16]


def export(st_model: Any, bundle: Path, model_id: str) -> None:
    """Write the transformer plus pooling plus L2 normalization as one ONNX graph, with its tokenizer."""
    import torch

    mode = _pooling_mode(st_model)
    if mode not in ("mean", "cls"):
        raise ValueError(f"ONNX export supports mean or cls pooling, not {mode!r}")
    tokenizer = st_model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("ONNX export needs a fast (Rust) tokenizer")
    auto = st_model[0].auto_model

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = auto

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            h = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            if mode == "cls":
                v = h[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(h.dtype)
                v = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, dim=-1)

    sample = tokenizer(["示例句子"], return_tensors="pt")
    if "token_type_ids" not in sample:
        raise ValueError("ONNX export expects a BERT-style tokenizer with token_type_ids")
    bundle.parent.mkdir(parents=True, exist_ok=True)
    tmp = bundle.with_name(f"{bundle.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    axes = {name: {0: "batch", 1: "seq"} for name in INPUTS} | {"embedding": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes we declare dynamic
        torch.onnx.export(
            Encoder().eval(),
            tuple(sample[name] for name in INPUTS),
            str(tmp / "model.onnx"),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
    get_dim = (
        getattr(st_model, "get_embedding_dimension", None)
        or st_model.get_sentence_embedding_dimension
    )
    meta = {
        "bundle_version": BUNDLE_VERSION,
        "model_id": model_id,
        "dim": int(get_dim()),
        "max_length": int(getattr(st_model, "max_seq_length", 512) or 512),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "pooling": mode,
    }
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    if bundle.exists():  # another process exported the same bundle first
        shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        os.replace(tmp, bundle)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not bundle.exists():
            raise


def quantize(bundle: Path) -> Path:
    """The bundle's int8 graph, written (atomically) on first use from the full-precision one."""
    target = bundle / "model.int8.onnx"
    if target.exists():
        return target
    from onnxruntime.quantization import QuantType

    tmp = bundle / f"model.int8.tmp{os.getpid()}.onnx"
    quantize_dynamic_quietly(bundle / "model.onnx", tmp, weight_type=QuantType.QInt8)
    os.replace(tmp, target)
    return target


def quantize_dynamic_quietly(source: Path, target: Path, **options: Any) -> None:
    """ONNX Runtime's ``quantize_dynamic(source, target, **options)`` without the advice about
    pre-processing it logs at WARNING on the root logger."""
    from onnxruntime.quantization import quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), **options)
    finally:
        root.setLevel(level)


class OnnxEncoder:
    """Encodes with ONNX Runtime; outputs unit vectors like the sentence-transformer it came from."""

    def __init__(self, bundle: Path, threads: int = 2, int8: bool = False) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((bundle / "meta.json").read_text(encoding="utf-8"))
        if meta.get("bundle_version") != BUNDLE_VERSION:
            raise ValueError(f"{bundle}: bundle version {meta.get('bundle_version')!r}")
        self.dim = int(meta["dim"])
        self.max_length = int(meta["max_length"])
        self.tokenizer = Tokenizer.from_file(str(bundle / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=meta["pad_id"], pad_token=meta["pad_token"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(bundle / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.quick = self.session
        if int8:
            # One thread for questions: under load the other core serves other requests' FAISS,
            # BM25 and HTTP work (/api/search at 100k, 16 clients: 134 vs 115 requests/s; one
            # client: p50 11.4 vs 9.7 ms). Passages, encoded in large batches, keep both.
            quick = ort.SessionOptions()
            quick.intra_op_num_threads = 1
            quick.inter_op_num_threads = 1
            self.quick = ort.InferenceSession(
                str(quantize(bundle)), quick, providers=["CPUExecutionProvider"]
            )
        self.int8 = int8
        self._lock = threading.Lock()

    @classmethod
    def cached(
        cls, cache_dir: Path, model_id: str, path: str, int8: bool = False
    ) -> OnnxEncoder | None:
        """The encoder from an already exported bundle, if the model is a local folder that has one."""
        key = local_fingerprint(model_id, path)
        if key is None or not (cache_dir / key / "meta.json").is_file():
            return None
        try:
            return cls(cache_dir / key, int8=int8)
        except Exception as e:  # a damaged bundle: export it again from the loaded model
            log.warning("ONNX bundle %s unusable (%s: %s)", cache_dir / key, type(e).__name__, e)
            shutil.rmtree(cache_dir / key, ignore_errors=True)
            return None

    @classmethod
    def from_model(
        cls, st_model: Any, cache_dir: Path, model_id: str, path: str, int8: bool = False
    ) -> OnnxEncoder:
        """Export the loaded sentence-transformer (once) and open the bundle."""
        key = local_fingerprint(model_id, path) or loaded_fingerprint(model_id, st_model)
        bundle = cache_dir / key
        if not (bundle / "meta.json").is_file():
            export(st_model, bundle, model_id)
        return cls(bundle, int8=int8)

    def encode(self, texts: Sequence[str], batch_size: int = 32, quick: bool = False) -> np.ndarray:
        """Unit vectors; ``quick`` uses the int8 graph when the encoder was opened with one."""
        session = self.quick if quick else self.session
        out = []
        for s in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(list(texts[s : s + batch_size]))
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            with self._lock:
                out.append(session.run(None, feed)[0])
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(out).astype(np.float32)
