import dataclasses

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from conftest import CONFIGS, micro_config
from mgjax.commands import dispatch
from mgjax.config.geometry import video_tokens
from mgjax.models.video.flops import forward_flops
from mgjax.tools import inspect as mg_inspect
from mgjax.train.tasks import load_config


@pytest.fixture(scope="module")
def report_30b():
    return mg_inspect.report(load_config(CONFIGS / "moviegen_video_30b.py"))


def test_30b_backbone_parameters(report_30b):
    p = report_30b["parameters"]
    assert 29e9 <= p["backbone"] <= 31e9
    # the spec's arithmetic: 4 d^2 attention + 4 d^2 cross-attention + 3 d f SwiGLU per layer, 48 layers = 28.99B
    assert p["backbone/self_attention"] + p["backbone/cross_attention"] + p["backbone/ffn"] == 48 * (
        8 * 6144 ** 2 + 3 * 6144 * 16384)


def test_30b_text_encoders_are_counted_apart_from_the_backbone(report_30b):
    """UL2 20B's encoder, ByT5-small's encoder and MetaCLIP 2.5B's text tower, by their architectures' formulas."""
    p = report_30b["parameters"]

    def t5(vocab, d, layers, inner, ffn, buckets=32, heads=16):  # embed + 4 attention + 3 gated FFN + 2 norms per layer
        return vocab * d + buckets * heads + layers * (4 * d * inner + 3 * d * ffn + 2 * d) + d

    assert p["text/ul2"] == t5(32128, 4096, 32, 4096, 16384) == 8_721_797_632  # ~8.7B (the 20B model's encoder)
    assert p["text/byt5"] == t5(384, 1472, 12, 384, 3584, heads=6)  # ~218M
    d, f = 1280, 5120  # CLIP: embeddings + (4 d^2 + 2 d f + biases + 2 LayerNorms) per layer + final LN + projection
    clip = 49408 * d + 256 * d + 32 * (4 * d * d + 4 * d + 2 * d * f + f + d + 4 * d) + 2 * d + d * 1280
    assert p["text/metaclip"] == clip  # ~695M


def test_30b_tokens(report_30b):
    t = report_30b["tokens"]
    assert t["latent"] == (32, 96, 96, 16)
    assert t["patch_grid"] == (32, 48, 48) and t["video_tokens"] == 73_728
    cfg = load_config(CONFIGS / "moviegen_video_30b.py")
    assert video_tokens(cfg, 256, 256, 256)["video_tokens"] == 8192  # 256 px, 32 latent frames
    assert video_tokens(cfg, 1, 256, 256)["video_tokens"] == 256  # a 256 px image
    assert video_tokens(cfg, 256, 576, 1024)["video_tokens"] == 32 * 2304  # every 768 px bucket


def test_30b_flops_match_the_spec(report_30b):
    """Spec §2.1: ~58 GFLOP/token dense (cross-attention K/V at full n) + ~87 GFLOP/token attention at 73,728."""
    f = report_30b["forward_flops_per_sample"]
    n = 73_728
    assert f["attention"] / n / 1e9 == pytest.approx(87, rel=0.02)
    assert 48 <= f["dense"] / n / 1e9 <= 58


def test_analytic_flops_match_xla_on_an_unscanned_model(devices):
    cfg = micro_config()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, width=64, ffn_width=256, num_layers=1,
                                                             scan_layers=False))
    from mgjax.models.t2v import TextToVideo
    from mgjax.parallel.mesh import make_mesh

    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        model = TextToVideo(cfg, rngs=nnx.Rngs(0))
    gd, st = nnx.split(model.backbone)
    tokens = video_tokens(cfg)
    x = jax.ShapeDtypeStruct((1, 8, 4, 4, 48), jnp.float32)
    m = tokens["text_tokens"]
    text = [(jax.ShapeDtypeStruct((1, m, 16), jnp.float32), jax.ShapeDtypeStruct((1, m), jnp.bool_))]
    fwd = jax.jit(lambda s, x, t, text: nnx.merge(gd, s)(x, t, text))
    xla = fwd.lower(st, x, jax.ShapeDtypeStruct((1,), jnp.float32), text).compile().cost_analysis()["flops"]
    analytic = forward_flops(cfg.model, cfg.text.encoders, tokens["video_tokens"], m)["total"]
    assert analytic == pytest.approx(xla, rel=0.15)


def test_cli_prints_json(capsys):
    assert dispatch(["inspect", "--config", str(CONFIGS / "shapes_t2v_tiny.py"), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"video_tokens": 64' in out and '"backbone"' in out
