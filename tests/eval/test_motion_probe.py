import pathlib

import jax.numpy as jnp
import numpy as np
import pytest

from mgjax.config import load_config
from mgjax.data.t2v_loader import shapes_source
from mgjax.models.codec import pixels_to_unit
from mgjax.models.codec.space_to_depth import SpaceToDepthCodec
from mgjax.eval.motion_probe import data_centroids, format_probe, mass_centroids, probe

CONFIG = pathlib.Path(__file__).resolve().parents[2] / "configs" / "shapes_t2v_tiny.py"


def test_mass_centroids_follow_a_saturated_square_over_grey():
    video = np.full((3, 16, 16, 3), 90.0)
    for frame, col in enumerate((2, 6, 10)):
        video[frame, 5:9, col:col + 4] = (230, 40, 40)
    np.testing.assert_allclose(mass_centroids(video, "col"), [4.0, 8.0, 12.0])
    np.testing.assert_allclose(mass_centroids(video, "row"), [7.0, 7.0, 7.0])


def test_training_clips_mean_moves_with_the_direction():
    cfg = load_config(CONFIG)
    source = shapes_source(cfg.data)
    left, n = data_centroids(source, "blue", "left", "quickly", "col")
    right, _ = data_centroids(source, "blue", "right", "quickly", "col")
    assert n >= 32
    assert np.all(np.diff(left) < -3.0) and np.all(np.diff(right) > 3.0)  # "quickly": 0.45 x 32 px over 3 steps
    assert left[0] - left[-1] > 10.0


def test_probe_reads_the_models_data_prediction_and_tells_an_ignoring_model():
    """A stand-in model that returns the training mean for the caption's direction matches the data; one that
    returns the same smear for every caption keeps every frame's centroid equal."""
    cfg = load_config(CONFIG)
    codec = SpaceToDepthCodec(cfg.codec)
    source = shapes_source(cfg.data)
    objects = [source.spec(i).objects for i in range(4000)]  # data_centroids' default max_clips
    means = {}
    for direction in ("left", "up"):
        clips = [source[i]["video"] for i, objs in enumerate(objects) if len(objs) == 1
                 and (objs[0].color, objs[0].direction, objs[0].speed) == ("blue", direction, "quickly")]
        means[direction] = codec.encode(pixels_to_unit(np.mean(clips, 0)[None]))

    def knows(x, t, tokens):
        return jnp.broadcast_to(means[tokens], x.shape)

    captions = ("a blue square moving left quickly", "a blue square moving up quickly")
    rows = probe(cfg, knows, lambda caps: caps[0].split()[4], codec, captions)
    for row in rows:
        np.testing.assert_allclose(row["model"], row["data"], atol=1e-3)
    blind = probe(cfg, lambda x, t, tokens: jnp.broadcast_to(means["left"].mean(1, keepdims=True), x.shape),
                  lambda caps: caps, codec, captions[:1])
    assert np.ptp(blind[0]["model"]) < 1e-3 and np.ptp(blind[0]["data"]) > 10.0
    assert "model" in format_probe(blind) and "training clips" in format_probe(blind)


def test_a_caption_without_motion_is_refused():
    cfg = load_config(CONFIG)
    with pytest.raises(ValueError, match="names no direction"):
        probe(cfg, None, None, SpaceToDepthCodec(cfg.codec), ("a blue square",))
