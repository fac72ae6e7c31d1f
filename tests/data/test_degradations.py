"""Second-order degradations (mgjax/data/degradations.py): reproducible from the seed, parameters within their
configured ranges, one set per clip, and actually degrading."""

import dataclasses

import numpy as np
import pytest

from mgjax.config.degradation import DegradationConfig, DegradationRound
from mgjax.data import degradations as D
from mgjax.data.natural_clips import NaturalClips


@pytest.fixture(scope="module")
def clip():
    return NaturalClips("heldout", num_frames=3, height=48, width=48, seed=0)[1]["video"]


def test_a_degraded_clip_is_reproducible_from_its_seed(clip):
    cfg = DegradationConfig()
    a = D.degrade(clip, cfg, 2, np.random.default_rng(7))
    b = D.degrade(clip, cfg, 2, np.random.default_rng(7))
    c = D.degrade(clip, cfg, 2, np.random.default_rng(8))
    assert a.shape == (3, 24, 24, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_drawn_parameters_stay_in_their_ranges():
    cfg = DegradationConfig(clean_prob=0.0)
    rng = np.random.default_rng(0)
    first, second = cfg.first, cfg.second
    seen = {"blur": 0, "noise": 0, "jpeg": 0}
    for _ in range(300):
        ops = D.draw(rng, cfg, (64, 64), (32, 32)).ops
        assert ops[-1][0] in ("jpeg", "blur", "resize")
        resizes = [op for op in ops if op[0] == "resize"]
        assert len(resizes) == 3 and resizes[-1][1] == (32, 32)  # two rounds + the final resize to the target
        lo, hi = first.resize_scale
        assert round(64 * lo) <= resizes[0][1][0] <= round(64 * hi)
        lo, hi = second.resize_scale
        assert round(32 * lo) <= resizes[1][1][0] <= round(32 * hi)
        for op in ops:
            seen[op[0]] = seen.get(op[0], 0) + 1
            if op[0] == "blur":
                k = op[1]
                assert k.shape[0] % 2 == 1 and k.shape[0] <= max(first.kernel_sizes[1], 15)
                assert abs(float(k.sum()) - 1.0) < 1e-5
            elif op[0] == "noise":
                _, kind, strength, _ = op
                lo, hi = (first.noise_sigma if kind == "gaussian" else first.poisson_scale)
                assert kind in ("gaussian", "poisson") and 0 < strength <= hi
            elif op[0] == "jpeg":
                assert min(first.jpeg_quality[0], cfg.final_jpeg[0]) <= op[1] <= 95
    assert seen["blur"] > 300 and 360 <= seen["noise"] <= 540 and seen["jpeg"] == 900  # round 2: noise half the time


def test_clean_share_and_disabled_degradation(clip):
    rng = np.random.default_rng(1)
    clean = sum(len(D.draw(rng, DegradationConfig(clean_prob=0.25), (64, 64), (32, 32)).ops) == 1 for _ in range(400))
    assert 70 <= clean <= 130
    off = D.degrade(clip, DegradationConfig(enabled=False), 2, rng)
    np.testing.assert_array_equal(off, D.apply(clip, D.Degradation((("resize", (24, 24), "bicubic"),), 0)))


def test_every_frame_gets_the_same_operations(clip):
    """A still clip degraded without noise stays still: one kernel, size and quality for every frame."""
    still = np.repeat(clip[:1], 3, axis=0)
    quiet = DegradationRound(noise_prob=0.0)
    cfg = DegradationConfig(first=quiet, second=dataclasses.replace(quiet, blur_prob=0.8), clean_prob=0.0)
    for seed in range(5):
        out = D.degrade(still, cfg, 2, np.random.default_rng(seed))
        assert np.array_equal(out[0], out[1]) and np.array_equal(out[1], out[2])


def test_kernels():
    k = D.gaussian_family_kernel(21, (2.0, 2.0), 0.0)
    y, x = np.meshgrid(np.arange(21) - 10, np.arange(21) - 10, indexing="ij")
    assert abs(float((k * x * x).sum()) - 4.0) < 0.05  # the variance is sigma^2
    aniso = D.gaussian_family_kernel(21, (3.0, 1.0), np.pi / 2)
    assert (aniso * y * y).sum() > 4 * (aniso * x * x).sum()  # rotated a quarter turn: long along rows
    sinc = D.sinc_kernel(13, np.pi / 3)
    assert abs(float(sinc.sum()) - 1.0) < 1e-5 and sinc.min() < 0  # ringing lobes
    np.testing.assert_allclose(sinc, sinc.T, atol=1e-7)


def test_degradations_remove_detail(clip):
    """Degraded inputs, upsampled back, are further from the clip than its clean resize is (averaged over seeds)."""
    def err(cfg, seed):
        low = D.degrade(clip, cfg, 2, np.random.default_rng(seed))
        back = D.resize(low.astype(np.float32) / 255, clip.shape[1:3], "bicubic")
        return float(np.mean((back - clip / 255.0) ** 2))
    clean = np.mean([err(DegradationConfig(enabled=False), s) for s in range(6)])
    degraded = np.mean([err(DegradationConfig(clean_prob=0.0), s) for s in range(6)])
    assert degraded > 1.15 * clean
