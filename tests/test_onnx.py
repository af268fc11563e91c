"""The ONNX backend gives the sentence-transformer's vectors and starts without PyTorch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.embed import SentenceTransformerEmbedder, resolve_model
from qa.onnx import OnnxEncoder, local_fingerprint

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "外卖骑手公寓的租金是多少？",
    "“工BA”撬动百万善款，98.93%的农户参与了1+1+4模式。",
    "长岗镇高粱基地今年的种植面积扩大到两千亩。" * 60,  # longer than 512 tokens: truncated
    "a",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def pair(cache) -> tuple[SentenceTransformerEmbedder, SentenceTransformerEmbedder]:
    onnx = SentenceTransformerEmbedder("m3e-small", backend="onnx", onnx_dir=cache)
    torch = SentenceTransformerEmbedder("m3e-small", backend="torch")
    return onnx, torch


def test_onnx_vectors_match_pytorch(pair) -> None:
    onnx, torch = pair
    assert onnx.backend == "onnx" and torch.backend == "torch"
    assert onnx.dim == torch.dim == 512
    a, b = onnx.encode_passages(TEXTS), torch.encode_passages(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 512)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(1).min() > 0.9999
    qa_, qb = onnx.encode_queries(TEXTS[:2]), torch.encode_queries(TEXTS[:2])
    assert (qa_ * qb).sum(1).min() > 0.9999


def test_exported_bundle_starts_without_pytorch(pair, cache) -> None:
    # the fixture exported the bundle; a fresh process must load it without torch
    key = local_fingerprint("m3e-small", resolve_model("m3e-small"))
    assert key and (cache / key / "model.onnx").is_file()
    code = (
        "import sys;from pathlib import Path;from qa.embed import SentenceTransformerEmbedder as E;"
        f"e=E('m3e-small',backend='onnx',onnx_dir=Path({str(cache)!r}));"
        "v=e.encode_queries(['租金是多少']);"
        "print(e.backend,v.shape[1],'torch' in sys.modules,'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split()
    assert out == ["onnx", "512", "False", "False"]


def test_damaged_bundle_is_exported_again(tmp_path, pair) -> None:
    onnx, _ = pair
    key = local_fingerprint("m3e-small", resolve_model("m3e-small"))
    assert key
    bundle = tmp_path / key
    bundle.mkdir()
    (bundle / "meta.json").write_text('{"bundle_version": 1, "dim": 512}', encoding="utf-8")
    (bundle / "model.onnx").write_bytes(b"not a model")
    assert OnnxEncoder.cached(tmp_path, "m3e-small", resolve_model("m3e-small")) is None
    again = SentenceTransformerEmbedder("m3e-small", backend="onnx", onnx_dir=tmp_path)
    assert again.backend == "onnx"
    v = again.encode_queries(["租金是多少"])
    w = onnx.encode_queries(["租金是多少"])
    assert float((v * w).sum()) > 0.9999


def test_hugging_face_ids_have_no_local_fingerprint() -> None:
    assert local_fingerprint("BAAI/bge-small-zh-v1.5", "BAAI/bge-small-zh-v1.5") is None


def test_concurrent_queries_batched_equal_single_ones(pair) -> None:
    from concurrent.futures import ThreadPoolExecutor

    onnx, _ = pair
    questions = [f"第{i}个问题：外卖骑手公寓的租金{'是多少' * (i % 4)}？" for i in range(24)]
    alone = np.stack([onnx.encode_queries([q])[0] for q in questions])
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = np.stack(list(pool.map(lambda q: onnx.encode_queries([q])[0], questions)))
    assert (alone * together).sum(1).min() > 0.9999


def test_int8_questions_stay_close_and_passages_keep_full_precision(pair, cache) -> None:
    onnx, _ = pair
    quick = SentenceTransformerEmbedder(
        "m3e-small", backend="onnx", onnx_dir=cache, query_int8=True
    )
    assert quick.quantized and not onnx.quantized
    key = local_fingerprint("m3e-small", resolve_model("m3e-small"))
    assert (cache / str(key) / "model.int8.onnx").is_file()
    q8, q32 = quick.encode_queries(TEXTS), onnx.encode_queries(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(q8, axis=1), 1.0, atol=1e-5)
    assert (q8 * q32).sum(1).min() > 0.97
    # the stored vectors are never quantized
    np.testing.assert_allclose(quick.encode_passages(TEXTS), onnx.encode_passages(TEXTS), atol=1e-5)


def test_settings_turn_int8_questions_on_by_default(monkeypatch) -> None:
    from qa.config import Settings

    assert Settings().query_int8
    monkeypatch.setenv("QA_QUERY_INT8", "0")
    assert not Settings.from_env().query_int8
    monkeypatch.setenv("QA_QUERY_INT8", "maybe")
    with pytest.raises(ValueError, match="QA_QUERY_INT8"):
        Settings.from_env()
