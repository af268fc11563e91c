"""A trained reader -> its bundle: the ONNX graph (full precision beside the training work, int8
in the bundle), the tokenizer and ``meta.json``."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.reader import e5, quantize
from qa.reader.model import PairEncoder
from qa.reader.net import FromEmbeddings, torch_module


def export(
    net: Any,
    encoder: PairEncoder,
    tok_file: Path,
    out: Path,
    work: Path,
    meta: dict[str, Any],
    calibration: Sequence[tuple[str, str]] = (),
    alpha: float = quantize.ALPHA,
) -> None:
    """ONNX graph (full precision and int8 weights, embedding table included unless the bundle
    reads it from a package: ``word_table`` in ``meta``) plus tokenizer. The int8 copy's
    activations are smoothed with ``alpha`` on the ``calibration`` pairs (``qa.reader.quantize``);
    without them it is plain dynamic quantization."""
    import warnings

    torch = torch_module()

    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    sample = encoder(["问题"], ["一个句子。"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    inputs = [torch.from_numpy(a) for a in sample.feed().values()]
    graph: Any = net
    table = None
    if meta.get("word_table"):
        # the graph starts after the frozen table: the reader looks the rows up itself
        names[0] = "inputs_embeds"
        table = e5.WordTable.load(meta["word_table"])
        inputs[0] = torch.from_numpy(table(sample.input_ids))
        graph = FromEmbeddings(net)
    # plain attention ops in the graph: torch's fused attention exports as a mask built from
    # Where / IsNaN and shape arithmetic that ONNX Runtime runs op by op
    net.encoder.set_attn_implementation("eager")
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    axes |= {
        "has_answer": {0: "batch"},
        "start": {0: "batch", 1: "seq"},
        "end": {0: "batch", 1: "seq"},
    }
    net.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            tuple(inputs),
            str(tmp / "reader.fp32.onnx"),
            input_names=names,
            output_names=["has_answer", "start", "end"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    # e5's reader: one weight scale per output column, held-out 65.9 / 80.4 against 64.1 / 78.6
    # with one per matrix (fp32 67.4 / 80.4); m3e-small's kept one per matrix
    per_channel = bool(meta.get("word_table"))
    feeds = []
    for question, sentence in calibration:
        feed = encoder([question], [sentence]).feed()
        if table is not None:
            feed["inputs_embeds"] = table(feed.pop("input_ids"))
        feeds.append(feed)
    smoothed = quantize.quantize(
        tmp / "reader.fp32.onnx", tmp / "reader.int8.onnx", feeds, per_channel, alpha
    )
    meta["int8"] = smoothed.meta() if smoothed else {"method": "dynamic int8"}
    if tok_file.stat().st_size > 4_000_000:  # e5's 250k pieces: 17 MB, 3.7 MB compressed
        (tmp / "tokenizer.json.gz").write_bytes(gzip.compress(tok_file.read_bytes(), 9, mtime=0))
    else:
        shutil.copy(tok_file, tmp / "tokenizer.json")
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    # the full-precision graph stays out of git (about 100 MB); keep it beside the training work
    work_fp32 = work / "reader.fp32.onnx"
    work_fp32.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp / "reader.fp32.onnx", work_fp32)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
