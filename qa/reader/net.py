"""The reader's network in PyTorch (training and export): an encoder with an "answers" head on
[CLS] and start / end heads over the tokens, and its weights read back from an exported bundle.

Only training needs torch; the service reads the exported ONNX graph (``qa.reader.model``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def torch_module() -> Any:
    import torch

    return torch


def forward(net: Any, tensors: Sequence[Any], bf16: bool) -> tuple[Any, Any, Any]:
    """The net's three outputs in fp32, its products in bfloat16 when ``bf16``."""
    torch = torch_module()
    device = tensors[0].device.type
    with torch.autocast(device, torch.bfloat16, enabled=bf16):
        has, start, end = net(*tensors)
    return has.float(), start.float(), end.float()


class ReaderNet(torch_module().nn.Module):  # type: ignore[misc]
    """Encoder + [CLS] answer logit + per-token start/end logits."""

    def __init__(self, encoder: Any) -> None:
        super().__init__()
        torch = torch_module()
        hidden = encoder.config.hidden_size
        self.encoder = encoder
        self.answer = torch.nn.Linear(hidden, 1)
        self.span = torch.nn.Linear(hidden, 2)

    def forward(
        self, input_ids: Any, attention_mask: Any, token_type_ids: Any, inputs_embeds: Any = None
    ) -> Any:
        h = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
        ).last_hidden_state
        has = self.answer(h[:, 0]).squeeze(-1)
        start, end = self.span(h).unbind(-1)
        return has, start, end


def bundle_weights(bundle: Path) -> dict[str, Any]:
    """The parameters of an exported reader, read back from its ONNX graph as a state dict.

    A second training stage starts from them (``--init-from``). int8 weights are dequantized;
    a Linear layer's weight is found through the bias its product is added to, since the
    exporter leaves matrix multiplications' weights unnamed.
    """
    torch = torch_module()
    import onnx
    from onnx import numpy_helper

    graph_file = next(
        (bundle / n for n in ("reader.onnx", "reader.int8.onnx") if (bundle / n).is_file()), None
    )
    if graph_file is None:
        raise SystemExit(f"--init-from {bundle}: no reader.onnx or reader.int8.onnx there")
    g = onnx.load(str(graph_file)).graph
    arrays = {i.name: numpy_helper.to_array(i) for i in g.initializer}

    def value(name: str) -> np.ndarray:
        if name in arrays and not name.endswith("_quantized"):
            return arrays[name].astype(np.float32)
        base = name.removesuffix("_quantized")
        q = arrays[f"{base}_quantized"].astype(np.float32)
        return (q - arrays[f"{base}_zero_point"].astype(np.float32)) * arrays[f"{base}_scale"]

    consumers: dict[str, list[Any]] = {}
    for node in g.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state: dict[str, Any] = {}
    for name in arrays:
        if name.endswith(("_scale", "_zero_point")) or name.startswith("onnx::"):
            continue
        key = name.removesuffix("_quantized")
        if re.fullmatch(r"[\w.]+\.(weight|bias)", key):
            state[key] = torch.from_numpy(value(name).copy())
    for node in g.node:
        if node.op_type not in ("MatMul", "MatMulInteger"):
            continue
        weight = next((n for n in node.input if n in arrays), None)
        if weight is None:
            continue
        # follow the product forward (Cast, Mul by the scales) to the Add of its bias
        frontier, bias = list(node.output), None
        for _ in range(4):
            nxt = [c for o in frontier for c in consumers.get(o, [])]
            bias = next(
                (i for c in nxt if c.op_type == "Add" for i in c.input if i.endswith(".bias")),
                None,
            )
            if bias or not nxt:
                break
            frontier = [o for c in nxt for o in c.output]
        if bias is None:
            raise SystemExit(f"--init-from {graph_file}: cannot place weight {weight}")
        state[bias.removesuffix(".bias") + ".weight"] = torch.from_numpy(value(weight).T.copy())
    # a graph that starts at the token embeddings (the e5 reader) wraps the net as ``net``
    return {k.removeprefix("net."): v for k, v in state.items()}


class FromEmbeddings(torch_module().nn.Module):  # type: ignore[misc]
    """The reader from its token embeddings on (the table is read outside the graph)."""

    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, inputs_embeds: Any, attention_mask: Any, token_type_ids: Any) -> Any:
        return self.net(None, attention_mask, token_type_ids, inputs_embeds=inputs_embeds)
