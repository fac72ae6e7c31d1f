"""CLIP's model pieces: the contrastive loss, the learned temperature and its clamp, pixel preprocessing, and the
MetaCLIP-size towers at their published parameter counts (abstractly)."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.config import MeshConfig
from mgjax.config.clip import IMAGE_MEAN, IMAGE_STD, clip_model
from mgjax.config.load import load_config
from mgjax.models.clip import CLIPModel, clip_pixels, contrastive_loss
from mgjax.parallel.mesh import make_mesh
from mgjax.train.tasks.base import count
from conftest import CONFIGS, clip_config


def test_contrastive_loss_is_symmetric_and_scores_the_diagonal():
    b = 8
    uninformed, _ = contrastive_loss(jnp.zeros((b, b)))
    np.testing.assert_allclose(uninformed, math.log(b), rtol=1e-6)  # every text equally likely: log b nats
    perfect, metrics = contrastive_loss(30.0 * jnp.eye(b))
    assert perfect < 1e-6 and metrics["image_to_text_top1"] == 1 and metrics["text_to_image_top1"] == 1
    logits = jax.random.normal(jax.random.key(0), (b, b))
    np.testing.assert_allclose(contrastive_loss(logits)[0], contrastive_loss(logits.T)[0], rtol=1e-6)
    # A wrong text scoring highest for image 0 costs more than the diagonal does.
    swapped = 30.0 * jnp.eye(b)[jnp.array([1, 0, *range(2, b)])]
    assert contrastive_loss(swapped)[0] > 5.0 and contrastive_loss(swapped)[1]["image_to_text_top1"] == (b - 2) / b


def test_temperature_starts_at_one_over_0_07_and_stops_at_100(devices):
    with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])):
        model = CLIPModel(clip_config().model, rngs=nnx.Rngs(0))
    np.testing.assert_allclose(model.scale(), 1 / 0.07, rtol=1e-5)
    model.logit_scale[...] = jnp.asarray(math.log(1000.0))
    np.testing.assert_allclose(model.scale(), 100.0, rtol=1e-5)
    graphdef, params = nnx.split(model)
    grads = jax.grad(lambda p: nnx.merge(graphdef, p).scale())(params)
    assert float(grads["logit_scale"][...]) == 0.0  # clamped: training no longer moves it


def test_pixels_are_centre_cropped_resized_and_normalised():
    mean = np.round(np.array(IMAGE_MEAN) * 255).astype(np.uint8)
    image = np.zeros((1, 20, 40, 3), np.uint8)
    image[:, :, 10:30] = mean  # the centred 20x20 square holds CLIP's mean colour; the sides are black
    out = np.asarray(clip_pixels(jnp.asarray(image), 16))
    assert out.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(out, 0.0, atol=0.5 / 255 / min(IMAGE_STD))  # the black sides were cropped away


def test_metaclip_bigg14_towers_have_the_published_sizes(devices):
    """Counted at 1 and 2 layers and extrapolated (layers are identical): tracing the 80 unscanned layers under
    nnx.eval_shape takes ~30 s (`python -m mgjax inspect --config configs/metaclip_bigg14.py` prints the same)."""
    cfg = load_config(CONFIGS / "metaclip_bigg14.py").model
    assert cfg == clip_model("metaclip_bigg14") and cfg.text.max_length == 256 and cfg.vision.image_size == 224

    def towers(layers: int) -> tuple[int, int]:
        small = dataclasses.replace(cfg, text=dataclasses.replace(cfg.text, num_layers=layers),
                                    vision=dataclasses.replace(cfg.vision, num_layers=layers))
        with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])):
            params = nnx.state(nnx.eval_shape(lambda: CLIPModel(small, rngs=nnx.Rngs(0))), nnx.Param)
        return count(params["vision"]), count(params["text"])

    (v1, t1), (v2, t2) = towers(1), towers(2)
    assert v1 + (cfg.vision.num_layers - 1) * (v2 - v1) == 1_844_907_264  # open_clip ViT-bigG-14's visual tower
    # Its text tower (694,659,840 at 77 positions) with the long-prompt table of 256 positions (paper §3.1.4).
    assert t1 + (cfg.text.num_layers - 1) * (t2 - t1) == 694_659_840 + (256 - 77) * 1280
