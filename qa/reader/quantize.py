"""The reader's full-precision ONNX graph -> its int8 copy, activations smoothed first.

ONNX Runtime's dynamic quantization gives each matrix product's input one 8-bit scale for the
whole tensor, so the few channels a transformer's activations carry large values in (the layer
norms' outliers) crush the rest to a handful of levels. Smoothing (SmoothQuant, Xiao et al. 2023)
divides each input channel by ``s = max|x|^alpha / max|w|^(1 - alpha)`` and multiplies the
matching weight row by it, so the product is unchanged in full precision and both sides quantize
with less loss. Channel maxima come from a few hundred training pairs run through the graph.

The division is a ``Mul`` node before the products that read the input (a layer norm's output
also feeds the residual path, so it cannot be folded there); the attention output's input is the
heads' weighted sum of the value projection, so its division folds into the value weights and
bias instead and costs nothing.

On the validation split (420 questions, e5 reader of 2026-12-01): int8 without smoothing EM / F1
65.71 / 80.02, full precision 68.33 / 81.17; smoothed with alpha 0.5 67.86 / 81.17, 0.6 68.33 /
81.42, 0.7 68.10 / 81.37, 0.8 66.67 / 80.35, and 0.3 collapses (8.81 / 18.98: weight rows scaled
a hundredfold apart share one scale per column). ``ALPHA`` is 0.6 (bench/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.onnx import quantize_dynamic_quietly

ALPHA = 0.6
# No channel's scale moves further than this either way
SCALE_LIMIT = 100.0


@dataclass(frozen=True)
class Smoothing:
    """What ``smooth`` did: the inputs smoothed, how many by a ``Mul`` node and how many folded
    into the value weights, with the alpha and the number of calibration pairs."""

    alpha: float
    pairs: int
    mul_nodes: int
    folded: int

    @property
    def inputs(self) -> int:
        return self.mul_nodes + self.folded

    def meta(self) -> dict[str, Any]:
        return {
            "method": "SmoothQuant before dynamic int8",
            "alpha": self.alpha,
            "calibration_pairs": self.pairs,
            "inputs_smoothed": self.inputs,
        }


def _weight_products(model: Any, uses: dict[str, int]) -> dict[str, list[Any]]:
    """Matrix products by a stored weight, grouped by the activation they read (the query, key and
    value projections read one), the span head's left out (its input is the encoder's output,
    read by the answer head too, and one product is not worth a node)."""
    weights = {i.name for i in model.graph.initializer}
    by_input: dict[str, list[Any]] = {}
    for n in model.graph.node:
        if n.op_type != "MatMul" or n.input[1] not in weights or n.input[0] in weights:
            continue
        if "/span/" in n.name or uses[n.input[1]] > 1:  # a weight shared elsewhere stays as it is
            continue
        by_input.setdefault(n.input[0], []).append(n)
    return by_input


def _uses(model: Any) -> dict[str, int]:
    count: dict[str, int] = {}
    for n in model.graph.node:
        for i in n.input:
            count[i] = count.get(i, 0) + 1
    return count


def channel_maxima(model: Any, feeds: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """max |x| per channel of every input ``_weight_products`` smooths, over the real (unpadded)
    tokens of the feeds."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(_weight_products(probe, _uses(probe)))
    have = {o.name for o in probe.graph.output}
    for name in names:
        if name not in have:
            probe.graph.output.append(
                helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
            )
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    inputs = {i.name for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    maxima: dict[str, np.ndarray] = {}
    for feed in feeds:
        got = dict(zip(outputs, session.run(None, {k: feed[k] for k in inputs}), strict=True))
        for name in names:
            x = np.abs(got[name].reshape(-1, got[name].shape[-1]))
            if "attention_mask" in feed:  # padding tokens' values say nothing
                x = x[feed["attention_mask"].reshape(-1).astype(bool)]
            maxima[name] = np.maximum(maxima.get(name, 0.0), x.max(0))
    if not maxima:
        raise ValueError("no calibration pairs: channel maxima need at least one")
    return maxima


def smooth(
    model: Any, maxima: dict[str, np.ndarray], alpha: float = ALPHA, pairs: int = 0
) -> Smoothing:
    """Smooths ``model`` in place (see the module's text); full-precision outputs are unchanged.
    ``pairs``: how many calibration pairs ``maxima`` came from, for the record."""
    from onnx import helper, numpy_helper

    weights = {i.name: i for i in model.graph.initializer}
    nodes = {n.name: n for n in model.graph.node}
    uses = _uses(model)
    mul_nodes = folded = 0
    added = []
    for x, products in _weight_products(model, uses).items():
        rows = [numpy_helper.to_array(weights[n.input[1]]) for n in products]
        w_max = np.max(np.stack([np.abs(w).max(1) for w in rows]), 0)
        s = np.maximum(maxima[x], 1e-5) ** alpha / np.maximum(w_max, 1e-5) ** (1 - alpha)
        s = np.clip(s, 1 / SCALE_LIMIT, SCALE_LIMIT).astype(np.float32)
        for n, w in zip(products, rows, strict=True):
            weights[n.input[1]].CopyFrom(numpy_helper.from_array(w * s[:, None], n.input[1]))
        value = _value_projection(products, nodes, weights, uses)
        if value is not None:
            for name in value:  # the value weights' columns and bias
                t = numpy_helper.to_array(weights[name])
                weights[name].CopyFrom(numpy_helper.from_array((t / s).astype(np.float32), name))
            folded += 1
            continue
        inverse, smoothed = f"{x}/smooth_inverse", f"{x}/smoothed"
        model.graph.initializer.append(numpy_helper.from_array(1.0 / s, inverse))
        added.append(helper.make_node("Mul", [x, inverse], [smoothed], name=f"{x}/smooth"))
        for n in products:
            n.input[0] = smoothed
        mul_nodes += 1
    _insert_in_order(model, added)
    return Smoothing(alpha, pairs, mul_nodes, folded)


def _value_projection(
    products: Sequence[Any], nodes: dict[str, Any], weights: dict[str, Any], uses: dict[str, int]
) -> tuple[str, str] | None:
    """(value weight, value bias) when the products' input is a BERT layer's attention context,
    which is linear in the value projection's output channels, in the same order (heads side by
    side)."""
    if len(products) != 1 or "/attention/output/dense/" not in products[0].name:
        return None
    layer = products[0].name.split("/attention/output/dense/")[0]
    matmul = nodes.get(f"{layer}/attention/self/value/MatMul")
    add = nodes.get(f"{layer}/attention/self/value/Add")
    if matmul is None or add is None or matmul.input[1] not in weights:
        return None
    bias = [i for i in add.input if i in weights]
    if len(bias) != 1 or matmul.output[0] not in add.input:
        return None
    if uses[matmul.input[1]] > 1 or uses[bias[0]] > 1 or uses[matmul.output[0]] > 1:
        return None  # shared with another product: scaling it would change that one too
    return matmul.input[1], bias[0]


def _insert_in_order(model: Any, added: Sequence[Any]) -> None:
    """Each new node right after the node that makes its input (ONNX wants them sorted)."""
    after: dict[str, list[Any]] = {}
    for n in added:
        after.setdefault(n.input[0], []).append(n)
    made = {out for n in model.graph.node for out in n.output}
    ordered = [n for n in added if n.input[0] not in made]  # graph inputs come first
    for n in model.graph.node:
        ordered.append(n)
        for out in n.output:
            ordered.extend(after.get(out, []))
    del model.graph.node[:]
    model.graph.node.extend(ordered)


def quantize(
    fp32: Path,
    out: Path,
    feeds: Sequence[dict[str, np.ndarray]],
    per_channel: bool,
    alpha: float = ALPHA,
) -> Smoothing | None:
    """Writes the int8 copy of ``fp32`` to ``out``: smoothed with ``feeds`` when there are any,
    then ONNX Runtime's dynamic quantization of the matrix products and
    lookups (``per_channel``: one weight scale per output column). Returns what was smoothed."""
    import onnx
    from onnxruntime.quantization import QuantType

    done = None
    source = fp32
    if feeds:
        model = onnx.load(str(fp32))
        done = smooth(model, channel_maxima(model, feeds), alpha, pairs=len(feeds))
        source = out.with_name(f"{out.stem}.smoothed.onnx")
        onnx.save(model, str(source))
    try:
        quantize_dynamic_quietly(
            source,
            out,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=per_channel,
        )
    finally:
        if source != fp32:
            source.unlink(missing_ok=True)
    return done
