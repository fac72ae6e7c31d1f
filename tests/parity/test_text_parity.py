"""Text encoders and tokenizers against transformers on torch CPU (marker `parity`).

One reference run (tests/parity/reference.py in .venv-parity) builds tiny random T5, UL2 (gated SiLU, a full
encoder-decoder checkpoint), ByT5 and CLIP models, saves them as safetensors, tokenizes all 1003 Movie Gen Bench
prompts with transformers' tokenizers and records the models' outputs. Here mgjax converts the same files and must
match: token ids exactly, encoder outputs within 1e-4 (fp32).
"""

from __future__ import annotations

import importlib
import dataclasses
import inspect
import json
import logging
import pathlib
import subprocess
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from mgjax.config import MeshConfig, TextEncoderConfig, VisionEncoderConfig
from mgjax.models.vision.clip import CLIPVisionEncoder
from mgjax.models.text.stack import build_encoder, encode_prompts, load_or_train_tokenizers, load_pretrained_encoders
from mgjax.models.text.tokenizer import SentencePieceTokenizer
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import TEXT_RULES, use_rules

pytestmark = pytest.mark.parity

BENCH = pathlib.Path(__file__).resolve().parents[2] / "data" / "moviegenbench" / "MovieGenVideoBench.txt"
HERE = pathlib.Path(__file__).resolve().parent
MAX_LENGTH = {"t5": 300, "byt5": 100, "clip": 256}  # the video model's limits (configs/moviegen_video_30b.py)
MODEL = dict(width=32, head_dim=8, heads=4, ffn=64, layers=2, projection=16, image_size=32, patch_size=8, seed=0,
             init=1.0)
TOL = 1e-4

# Tokenizer vocabularies are trained on Python's own documentation, never on the benchmark prompts.
CORPUS_MODULES = ("argparse", "collections", "json", "random", "statistics", "textwrap", "unittest", "logging",
                  "pathlib", "subprocess", "typing", "datetime", "decimal", "fractions", "email.message",
                  "http.client", "urllib.parse", "csv", "sqlite3", "threading", "asyncio.tasks", "difflib", "heapq")


def corpus_lines() -> list[str]:
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # typing.io / typing.re docstrings
        for name in CORPUS_MODULES:
            module = importlib.import_module(name)
            for obj in [module] + [o for _, o in inspect.getmembers(module)]:
                doc = inspect.getdoc(obj)
                if doc:
                    lines += [l.strip() for l in doc.splitlines() if len(l.strip()) > 20]
    return list(dict.fromkeys(lines))


def one_device_mesh():
    return make_mesh(MeshConfig(), jax.devices()[:1])


def bench_prompts() -> list[str]:
    prompts = BENCH.read_text("utf-8").splitlines()
    assert len(prompts) == 1003
    return prompts


@pytest.fixture(scope="module")
def reference(parity_python, tmp_path_factory) -> pathlib.Path:
    work = tmp_path_factory.mktemp("parity")
    corpus = corpus_lines()
    (work / "corpus.txt").write_text("\n".join(corpus), "utf-8")
    (work / "prompts.txt").write_text("\n".join(bench_prompts()), "utf-8")
    spm = SentencePieceTokenizer.train(corpus, vocab_size=2000, model_type="unigram")
    spm.save(work / "spm" / "spiece.model")
    spec = {"max_length": MAX_LENGTH, "model": MODEL, "t5_vocab": spm.vocab_size, "clip_merges": 3000}
    (work / "spec.json").write_text(json.dumps(spec))
    run = subprocess.run([str(parity_python), str(HERE / "reference.py"), str(work)], capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    return work


def load_npz(path: pathlib.Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def encoder_configs(work: pathlib.Path) -> dict[str, TextEncoderConfig]:
    m = MODEL
    vocab = json.loads((work / "clip_tokenizer" / "vocab.json").read_text("utf-8"))
    spm_vocab = SentencePieceTokenizer.load(work / "spm" / "spiece.model").vocab_size
    t5 = dict(kind="t5", width=m["width"], num_layers=m["layers"], num_heads=m["heads"], head_dim=m["head_dim"],
              ffn_width=m["ffn"])
    return {
        "t5": TextEncoderConfig(name="t5", vocab_size=spm_vocab, activation="gelu_tanh", max_length=MAX_LENGTH["t5"],
                                tokenizer_path=str(work / "spm" / "spiece.model"), checkpoint=str(work / "t5"), **t5),
        "ul2": TextEncoderConfig(name="ul2", vocab_size=spm_vocab, activation="silu", max_length=MAX_LENGTH["t5"],
                                 tokenizer_path=str(work / "spm" / "spiece.model"), checkpoint=str(work / "ul2"), **t5),
        "byt5": TextEncoderConfig(name="byt5", vocab_size=384, activation="gelu_tanh", max_length=MAX_LENGTH["byt5"],
                                  tokenizer="byte", input="quoted", checkpoint=str(work / "byt5"), **t5),
        "clip": TextEncoderConfig(name="metaclip", kind="clip", vocab_size=len(vocab), width=m["width"],
                                  num_layers=m["layers"], num_heads=m["heads"], head_dim=m["width"] // m["heads"],
                                  ffn_width=m["ffn"], activation="quick_gelu", norm_eps=1e-5,
                                  max_length=MAX_LENGTH["clip"], projection_dim=m["projection"], tokenizer="clip_bpe",
                                  tokenizer_path=str(work / "clip_tokenizer"), checkpoint=str(work / "clip")),
    }


def test_tokenizers_match_transformers_on_all_bench_prompts(reference, caplog):
    """T5 (SentencePiece), ByT5 (quoted spans) and CLIP BPE ids and masks equal transformers' on all 1003 prompts."""
    ref = load_npz(reference / "tokens.npz")
    cfgs = encoder_configs(reference)
    order = [cfgs["t5"], cfgs["byt5"], cfgs["clip"]]
    tokenizers = load_or_train_tokenizers(order, None)
    prompts = bench_prompts()
    with caplog.at_level(logging.WARNING):
        batches = encode_prompts(prompts, order, tokenizers)
    for name, batch in zip(("t5", "byt5", "clip"), batches):
        ids, mask = ref[f"{name}/ids"], ref[f"{name}/mask"]
        rows = np.flatnonzero(~(batch.ids == ids).all(1) | ~(batch.mask == mask).all(1))
        assert rows.size == 0, f"{name}: {rows.size} prompts differ, first {prompts[rows[0]]!r}"
        over = int((ref[f"{name}/lengths"] > MAX_LENGTH[name]).sum())
        print(f"{name}: {over} of {len(prompts)} prompts exceed {MAX_LENGTH[name]} tokens "
              f"(longest {int(ref[f'{name}/lengths'].max())})")
        assert batch.num_truncated == over, name  # truncation is counted exactly ...
        if over:  # ... and reported
            assert any(f"exceed {order[('t5', 'byt5', 'clip').index(name)].name}'s" in r.message
                       for r in caplog.records)
    assert int((ref["byt5/mask"].sum(1) > 1).sum()) == 2  # only two bench prompts quote text to render


def _run_encoder(cfg: TextEncoderConfig, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    with jax.set_mesh(one_device_mesh()):
        encoder = build_encoder(cfg, rngs=nnx.Rngs(1))
        load_pretrained_encoders([encoder], [cfg])
    graphdef, state = nnx.split(encoder)
    run = jax.jit(lambda s, i, m: nnx.merge(graphdef, s)(i, m))
    return np.concatenate([np.asarray(run(state, jnp.asarray(ids[i:i + 256]), jnp.asarray(mask[i:i + 256])))
                           for i in range(0, len(ids), 256)])


def _max_diff_valid(ours: np.ndarray, theirs: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(ours - theirs)[mask].max())


@pytest.mark.parametrize("name,tokens", [("t5", "t5"), ("ul2", "t5"), ("byt5", "byt5_full")])
def test_t5_family_outputs_match(reference, name, tokens):
    """T5 v1.1 (gated GELU), UL2 (gated SiLU, from a full encoder-decoder checkpoint) and ByT5, on every prompt."""
    ref_tokens, ref_out = load_npz(reference / "tokens.npz"), load_npz(reference / "outputs.npz")
    ids, mask = ref_tokens[f"{tokens}/ids"], ref_tokens[f"{tokens}/mask"]
    ours = _run_encoder(encoder_configs(reference)[name], ids, mask)
    diff = _max_diff_valid(ours, ref_out[name], mask)
    print(f"{name}: max |mgjax - transformers| = {diff:.2e} over {int(mask.sum())} tokens")
    assert diff <= TOL
    assert np.abs(ref_out[name][mask]).mean() > 0.05  # a real signal, not zeros compared with zeros


def test_clip_text_outputs_match_at_256_positions(reference):
    """Long-prompt CLIP (256 positions): token outputs and the projected EOS-pooled output, on every prompt."""
    ref_tokens, ref_out = load_npz(reference / "tokens.npz"), load_npz(reference / "outputs.npz")
    ids, mask = ref_tokens["clip/ids"], ref_tokens["clip/mask"]
    cfg = encoder_configs(reference)["clip"]
    with jax.set_mesh(one_device_mesh()):
        encoder = build_encoder(cfg, rngs=nnx.Rngs(1))
        load_pretrained_encoders([encoder], [cfg])
    hidden = np.asarray(jax.jit(encoder.__call__)(jnp.asarray(ids), jnp.asarray(mask)))
    pooled = np.asarray(encoder.pooled(jnp.asarray(hidden), jnp.asarray(mask)))
    diff = _max_diff_valid(hidden, ref_out["clip_text"], mask)
    pooled_diff = float(np.abs(pooled - ref_out["clip_text_embeds"]).max())
    print(f"clip text: max diff {diff:.2e}, pooled+projection {pooled_diff:.2e}")
    assert diff <= TOL and pooled_diff <= TOL


def test_clip_vision_outputs_match(reference):
    ref_out = load_npz(reference / "outputs.npz")
    m = MODEL
    cfg = VisionEncoderConfig(image_size=m["image_size"], patch_size=m["patch_size"], width=m["width"],
                              num_layers=m["layers"], num_heads=m["heads"], ffn_width=m["ffn"],
                              activation="quick_gelu", projection_dim=m["projection"])
    from mgjax.convert.clip import load_clip_vision
    from mgjax.convert.safetensors import Checkpoint

    with jax.set_mesh(one_device_mesh()), use_rules(TEXT_RULES):
        encoder = CLIPVisionEncoder(cfg, rules=TEXT_RULES, rngs=nnx.Rngs(0))
    load_clip_vision(encoder, Checkpoint(reference / "clip"))
    tokens, pooled = encoder(jnp.asarray(ref_out["images_nhwc"]))
    diff = float(np.abs(np.asarray(tokens) - ref_out["clip_vision"]).max())
    pooled_diff = float(np.abs(np.asarray(pooled) - ref_out["clip_image_embeds"]).max())
    print(f"clip vision: max diff {diff:.2e}, pooled+projection {pooled_diff:.2e}")
    assert diff <= TOL and pooled_diff <= TOL


def test_77_position_checkpoint_loads_into_256_context(reference):
    """A standard 77-position CLIP text checkpoint extends to long-prompt MetaCLIP's 256 by interpolation."""
    from mgjax.convert.clip import interpolate_positions
    from mgjax.convert.safetensors import Checkpoint

    cfg = encoder_configs(reference)["clip"]
    cfg = dataclasses.replace(cfg, checkpoint=str(reference / "clip77"), projection_dim=0)
    with jax.set_mesh(one_device_mesh()):
        encoder = build_encoder(cfg, rngs=nnx.Rngs(1))
        load_pretrained_encoders([encoder], [cfg])
    table = Checkpoint(reference / "clip77")["embeddings.position_embedding.weight"]  # transformers 5: no prefix
    ours = np.asarray(encoder.pos_embed[...])
    assert ours.shape == (256, MODEL["width"])
    np.testing.assert_allclose(ours, interpolate_positions(np.array(table), 256), atol=1e-7)
    np.testing.assert_allclose(ours[[0, -1]], table[[0, -1]], atol=1e-7)
