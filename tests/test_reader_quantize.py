"""The reader's int8 copy with smoothed activations (``qa.reader.quantize``) on a tiny BERT reader
exported as ``qa train-reader`` exports: the smoothed graph computes what the original does, the
attention output's scale folds into the value projection; and on one matrix product, an outlier
channel no longer costs the other channels their precision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qa.reader import quantize  # noqa: E402

LAYERS = 2


def _export(tmp_path: Path) -> Path:
    from qa.reader.net import FromEmbeddings, ReaderNet

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=32,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    net = ReaderNet(transformers.BertModel(config, add_pooling_layer=False)).float().eval()
    net.encoder.set_attn_implementation("eager")
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Linear):
                # weights that make each sublayer matter beside the residual path, and trained
                # biases rather than the zeros the exporter shares between layers
                module.weight.normal_(0, module.in_features**-0.5)
                module.bias.normal_(0, 0.02)
    # as the shipped reader: the token table is read outside the graph
    ones = torch.ones((1, 12), dtype=torch.long)
    inputs = (torch.randn(1, 12, 32), ones, 0 * ones)
    path = tmp_path / "reader.fp32.onnx"
    names = ["inputs_embeds", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(
            FromEmbeddings(net),
            inputs,
            str(path),
            input_names=names,
            output_names=["has_answer", "start", "end"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in names},
            opset_version=17,
            dynamo=False,
        )
    return path


def _feeds(n: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        length = int(rng.integers(6, 20))
        mask = np.ones((1, length), np.int64)
        embeds = rng.normal(size=(1, length, 32)).astype(np.float32)
        out.append({"inputs_embeds": embeds, "attention_mask": mask, "token_type_ids": 0 * mask})
    return out


def _run(model: Any, feeds: list[dict[str, np.ndarray]]) -> list[list[np.ndarray]]:
    data = model if isinstance(model, (str, Path)) else model.SerializeToString()
    session = ort.InferenceSession(
        str(data) if isinstance(data, Path) else data, providers=["CPUExecutionProvider"]
    )
    return [session.run(None, f) for f in feeds]


def test_smoothing_leaves_the_full_precision_answers_unchanged(tmp_path: Path) -> None:
    path = _export(tmp_path)
    model = onnx.load(str(path))
    feeds = _feeds(8, seed=1)
    done = quantize.smooth(model, quantize.channel_maxima(model, feeds), alpha=0.6)
    # per layer: query/key/value's input, the attention output's, the intermediate's, the output's
    assert done.inputs == 4 * LAYERS
    assert done.folded == LAYERS  # the attention output's scale went into the value weights
    assert done.mul_nodes == 3 * LAYERS
    assert [n.op_type for n in model.graph.node].count("Mul") >= done.mul_nodes
    onnx.checker.check_model(model)  # nodes still in order
    test = _feeds(5, seed=2)
    for before, after in zip(_run(path, test), _run(model, test), strict=True):
        for a, b in zip(before, after, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def _product_with_an_outlier_channel(path: Path) -> list[dict[str, np.ndarray]]:
    """A graph of one matrix product whose input has one channel a hundred times the others (a
    trained layer norm's outlier), and feeds for it."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.25, (16, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="/layer.0/dense/MatMul")],
        "product",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, 8])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    feeds = []
    for _ in range(12):
        x = rng.normal(size=(1, 10, 16)).astype(np.float32)
        x[..., 3] *= 100
        feeds.append({"x": x, "attention_mask": np.ones((1, 10), np.int64)})
    return feeds


def test_smoothed_int8_keeps_what_an_outlier_channel_costs_plain_int8(tmp_path: Path) -> None:
    path = tmp_path / "product.onnx"
    feeds = _product_with_an_outlier_channel(path)
    plain = tmp_path / "plain.int8.onnx"
    smoothed = tmp_path / "smoothed.int8.onnx"
    assert quantize.quantize(path, plain, [], per_channel=True) is None
    done = quantize.quantize(path, smoothed, feeds[:8], per_channel=True)
    assert done is not None and done.pairs == 8 and done.mul_nodes == 1
    assert done.meta()["alpha"] == quantize.ALPHA
    assert not (tmp_path / "smoothed.int8.smoothed.onnx").exists()  # the scratch graph is gone
    ops = [n.op_type for n in onnx.load(str(smoothed)).graph.node]
    assert "MatMulInteger" in ops
    test = [{"x": f["x"]} for f in feeds[8:]]
    ref = _run(path, test)

    def error(graph: Path) -> float:
        got = _run(graph, test)
        return float(np.mean([np.abs(r[0] - g[0]).mean() for r, g in zip(ref, got, strict=True)]))

    assert error(smoothed) < 0.5 * error(plain)


def test_no_calibration_pairs_is_a_clear_error(tmp_path: Path) -> None:
    model = onnx.load(str(_export(tmp_path)))
    with pytest.raises(ValueError, match="calibration"):
        quantize.channel_maxima(model, [])


def test_calibration_pairs_are_the_same_every_run() -> None:
    from qa.reader.data import QAItem, calibration_pairs

    context = "武乡县共解决信访问题375件。群众满意率达99%。县处级领导包案化解。"
    items = [
        QAItem(str(i), f"问题{i}？", context, "标题", (("375件", 9),), "cmrc") for i in range(30)
    ]
    pairs = calibration_pairs(items, limit=10)
    assert pairs == calibration_pairs(items, limit=10)
    assert len(pairs) == 20  # every third item, its first two sentences
    assert pairs[0] == ("问题0？", "武乡县共解决信访问题375件。")
    assert pairs[2][0] == "问题3？"


@pytest.mark.parametrize("alpha", ["0", "1.5"])
def test_an_alpha_outside_zero_to_one_is_refused(alpha: str, capsys: Any) -> None:
    from qa import cli

    assert cli.main(["train-reader", "--export-only", "--int8-smoothing", alpha]) != 0
    assert "--int8-smoothing must be between 0 and 1" in capsys.readouterr().err
