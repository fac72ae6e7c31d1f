"""Encoder presets against the public parameter counts of their checkpoints, from abstract shapes only."""

import dataclasses

import jax
import numpy as np
import pytest
from flax import nnx

from conftest import CONFIGS
from mgjax.config import MeshConfig, load_config
from mgjax.config.text import TEXT_ENCODERS, text_encoder
from mgjax.config.vision import VISION_ENCODERS
from mgjax.models.vision.clip import CLIPVisionEncoder
from mgjax.models.text.stack import build_encoder
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import TEXT_RULES, use_rules


def count(build) -> int:
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
        params = nnx.state(nnx.eval_shape(build), nnx.Param)
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))


@pytest.mark.parametrize("preset,expected", [
    ("metaclip_l14", 123_060_480),  # transformers' CLIPTextModel of clip-vit-large-patch14 (no projection)
    ("t5_v1_1_xxl", 4_762_310_656),  # T5 v1.1 XXL's encoder, the "4.7B T5-XXL" of SD3/Flux
])
def test_text_presets_match_public_counts(preset, expected):
    cfg = dataclasses.replace(TEXT_ENCODERS[preset], projection_dim=0)
    assert count(lambda: build_encoder(cfg, rngs=nnx.Rngs(0))) == expected


def test_vision_preset_matches_clip_l14():
    with use_rules(TEXT_RULES):  # transformers' CLIPVisionModel of clip-vit-large-patch14, without projection
        n = count(lambda: CLIPVisionEncoder(dataclasses.replace(VISION_ENCODERS["metaclip_l14"], projection_dim=0),
                                            rules=TEXT_RULES, rngs=nnx.Rngs(0)))
    assert n == 303_179_776


def test_paper_config_uses_the_presets():
    cfg = load_config(CONFIGS / "moviegen_video_30b.py")
    ul2, byt5, clip = cfg.text.encoders
    assert ul2 == TEXT_ENCODERS["ul2"] and byt5 == TEXT_ENCODERS["byt5_small"]
    assert clip == text_encoder("metaclip_bigg14", max_length=256)
    assert byt5.input == "quoted" and clip.max_length == 256  # paper: ByT5 on quoted text; 77 -> 256 positions
    with pytest.raises(KeyError, match="valid: ul2"):
        text_encoder("gpt2")
