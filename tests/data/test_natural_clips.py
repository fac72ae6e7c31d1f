import os
import pickle

import numpy as np
import pytest

from conftest import CONFIGS
from mgjax.config import NaturalClipsConfig
from mgjax.data.natural_clips import (HELDOUT_PHOTOS, TRAIN_PHOTOS, Camera, NaturalClips, film, load_photo,
                                      photo_dir, pink_noise)
from mgjax.errors import UserError
from mgjax.train.tasks import load_config

NUM = 150


@pytest.fixture(scope="module")
def train():
    source = NaturalClips("train", num_frames=8, height=32, width=32, seed=5)
    return source, [source[i]["video"] for i in range(NUM)]


def test_same_index_gives_identical_bytes_and_seeds_and_splits_differ(train):
    source, videos = train
    again = pickle.loads(pickle.dumps(NaturalClips("train", num_frames=8, height=32, width=32, seed=5)))
    for i in (0, 1, 2, 3, 999_999):
        assert again[i]["video"].tobytes() == source[i]["video"].tobytes()
    other = NaturalClips("train", num_frames=8, height=32, width=32, seed=6)
    heldout = NaturalClips("heldout", num_frames=8, height=32, width=32, seed=5)
    assert sum(other[i]["video"].tobytes() == videos[i].tobytes() for i in range(20)) == 0
    assert sum(heldout[i]["video"].tobytes() == videos[i].tobytes() for i in range(20)) == 0


def test_clips_are_uint8_frames_of_every_kind_in_their_weights(train):
    source, videos = train
    assert all(v.shape == (8, 32, 32, 3) and v.dtype == np.uint8 for v in videos)
    kinds = [source.kind(i) for i in range(NUM)]
    for kind, weight in zip(("shapes", "procedural", "photo"), source.weights):
        assert abs(kinds.count(kind) / NUM - weight) < 0.12, (kind, kinds.count(kind))
    textured = [v for v, k in zip(videos, kinds) if k != "shapes"]
    assert np.mean([v.std() > 2 for v in textured]) > 0.9  # content, not flat fills
    assert min(v.min() for v in textured) < 30 and max(v.max() for v in textured) > 225  # the whole range is used
    images = NaturalClips("train", num_frames=1, height=32, width=48)
    assert images[0]["video"].shape == (1, 32, 48, 3)


def test_heldout_photos_never_appear_in_training():
    assert not set(HELDOUT_PHOTOS) & set(TRAIN_PHOTOS)
    for name in HELDOUT_PHOTOS + TRAIN_PHOTOS:  # every photo ships in scikit-image's data directory
        assert os.path.isfile(os.path.join(photo_dir(), name)), name
    assert len({load_photo(n).shape for n in HELDOUT_PHOTOS}) == 3 and all(
        load_photo(n).std(-1).mean() > 5 for n in HELDOUT_PHOTOS)  # three different colour photos
    train = NaturalClips("train", seed=1)
    shown = {train.photo(i) for i in range(2000)} - {None}
    assert shown == set(TRAIN_PHOTOS)
    heldout = NaturalClips("heldout", seed=1)
    assert {heldout.photo(i) for i in range(200)} == set(HELDOUT_PHOTOS)


def test_the_camera_moves_the_content(train):
    source, videos = train
    moving = [v for i, v in enumerate(videos) if source.kind(i) != "shapes"]
    change = np.array([np.abs(v[-1].astype(int) - v[0]).mean() for v in moving])
    assert 0.1 < np.mean(change < 0.5) < 0.4  # some clips hold still (static_prob), most move
    assert np.median(change) > 4
    still = NaturalClips("train", mix=NaturalClipsConfig(static_prob=1.0, shapes_weight=0.0))
    assert np.mean([np.abs(np.diff(still[i]["video"].astype(int), axis=0)).max() <= 1 for i in range(20)]) > 0.6


def test_a_pan_films_the_canvas_shifted_by_subpixel_steps():
    """A pan of 3 output pixels over 4 frames moves the content by exactly one pixel per frame; half-pixel positions
    are interpolated between their neighbours."""
    canvas = np.random.default_rng(0).uniform(0, 255, (40, 40, 3))
    camera = Camera(scale=1.0, shift=(0.0, 3.0))
    video = film(canvas, camera.coords(4, 16, 16) + 20, camera.gains(4)).astype(int)
    np.testing.assert_array_equal(video[1, :, :-1], video[0, :, 1:])
    np.testing.assert_array_equal(video[3, :, :-3], video[0, :, 3:])
    smooth = np.repeat(np.linspace(0, 255, 40)[None, :, None], 40, 0).repeat(3, 2)
    half = film(smooth, Camera(scale=1.0).coords(1, 8, 8) + (20, 20.5), np.ones(1)).astype(float)
    whole = film(smooth, Camera(scale=1.0).coords(1, 8, 8) + 20, np.ones(1)).astype(float)
    np.testing.assert_allclose(half[0, :, :-1], (whole[0, :, :-1] + whole[0, :, 1:]) / 2, atol=1)


def test_pink_noise_falls_as_one_over_f():
    field = pink_noise(np.random.default_rng(0), 128, 128, beta=1.0)
    f = np.hypot(np.fft.fftfreq(128)[:, None], np.fft.fftfreq(128)[None])
    amplitude = np.abs(np.fft.fft2(field))
    bands = np.geomspace(0.02, 0.4, 8)
    means = [amplitude[(f >= lo) & (f < hi)].mean() for lo, hi in zip(bands, bands[1:])]
    slope = np.polyfit(np.log(np.sqrt(bands[1:] * bands[:-1])), np.log(means), 1)[0]
    assert -1.2 < slope < -0.8


def test_bad_mix_is_one_line():
    with pytest.raises(UserError, match=r"data.natural.shapes_weight, procedural_weight and photo_weight must be"):
        load_config(CONFIGS / "tae_natural.py", ["data.natural.photo_weight=-1"])
    with pytest.raises(UserError, match=r"data.natural.static_prob must be in \[0, 1\]"):
        load_config(CONFIGS / "tae_natural.py", ["data.natural.static_prob=2"])
    with pytest.raises(UserError, match="data.source=natural_clips has no captions"):
        load_config(CONFIGS / "shapes_t2v_tiny.py", ["data.source=natural_clips"])
