"""TAE training through the shared loop: it learns, its adversarial and outlier-penalty phases switch on at their
steps, it resumes exactly, and the evaluation writes the latent statistics the video model's codec reads."""

import dataclasses
import json

import jax
import numpy as np
import pytest
from flax import nnx

from conftest import CONFIGS, REPO
from mgjax.checkpoint.restore import load_codec, restore_params
from mgjax.config import (CodecConfig, Config, DataConfig, MeshConfig, MovingShapesConfig, OptimConfig, TAEConfig,
                          TAELossConfig, TrainConfig, load_config)
from mgjax.config.geometry import tae_compression
from mgjax.errors import UserError
from mgjax.eval.metrics import psnr
from mgjax.eval.recon_baseline import bicubic_roundtrip
from mgjax.eval.tae_recon import _clips, evaluate, psnr_by_background, reconstruct
from mgjax.models.tae.model import TemporalAutoencoder
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import TAE_RULES
from mgjax.parallel.sharding import put_batch
from mgjax.train.loop import train
from mgjax.train.tae_step import random_crops
from mgjax.train.tasks import task_for


def micro_tae_config(**loss) -> Config:
    return Config(
        name="micro_tae", task="tae",
        model=TAEConfig(base_channels=8, channel_mult=(1, 2, 2), num_res_blocks=1, temporal_downsample=(True, False),
                        latent_channels=4, num_groups=4, encode_tile_frames=4, decode_tile_frames=4,
                        decode_tile_overlap=2),
        data=DataConfig(num_frames=4, height=16, width=16, fps_prefix=False, batch_size=4, image_every=4,
                        shapes=MovingShapesConfig(textured_prob=0.0)),
        optim=OptimConfig(learning_rate=3e-3, warmup_steps=5, weight_decay=0.0, ema_decay=0.0),
        loss=dataclasses.replace(TAELossConfig(disc_weight=0.0, opl_weight=0.0), **loss),
        train=TrainConfig(steps=8, log_every=1, checkpoint_every=4),
        mesh=MeshConfig(data=-1),
    )


def codec_of(cfg: Config, checkpoint: str = "") -> CodecConfig:
    """The codec a text-to-video config would name to train in this TAE's latents."""
    return CodecConfig(kind="tae", factors=tae_compression(cfg.model), latent_channels=cfg.model.latent_channels,
                       tae=cfg.model, checkpoint=checkpoint)


def metrics(workdir):
    """step -> logged training metrics (wall-clock fields dropped)."""
    rows = map(json.loads, (workdir / "metrics.jsonl").read_text().splitlines())
    return {r["step"]: {k: v for k, v in r.items() if k not in ("time", "train/steps_per_s")} for r in rows}


@pytest.mark.slow
def test_tae_learns_to_reconstruct(tmp_path, devices):
    cfg = dataclasses.replace(micro_tae_config(), train=TrainConfig(steps=400, log_every=50, checkpoint_every=400))
    train(cfg, tmp_path, devices=devices[:1], verbose=False)
    rows = metrics(tmp_path)
    assert rows[400]["train/psnr"] > rows[50]["train/psnr"] + 3.0  # dB
    result = evaluate(cfg, tmp_path, num=8, write=1)
    assert np.isfinite(result["video"]["psnr"]) and (tmp_path / "eval" / "tae_00.gif").is_file()
    by_background = result["video"]["by_background"]  # weighted by clip counts, the kinds give back the overall mean
    assert sum(v["num"] for v in by_background.values()) == 8
    np.testing.assert_allclose(sum(v["psnr"] * v["num"] for v in by_background.values()) / 8,
                               result["video"]["psnr"], rtol=1e-5)
    stats = json.loads((tmp_path / "latent_stats.json").read_text())
    assert len(stats["shift"]) == len(stats["scale"]) == 4
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        codec = load_codec(codec_of(cfg, str(tmp_path)))
        video = np.random.default_rng(0).uniform(-1, 1, (1, 4, 16, 16, 3)).astype(np.float32)
        z = codec.encode(video)
        assert z.shape == (1, 2, 4, 4, 4) == (1, *codec.geometry.latent_shape(4, 16, 16))
        assert codec.decode(z, 4).shape == video.shape


@pytest.mark.slow
def test_committed_cpu_tae_reconstructs_heldout_clips_and_images():
    """assets/tae_shapes (made by the command in configs/tae_shapes.py) learned to reconstruct held-out Moving Shapes
    far better than painting each clip its mean colour."""
    cfg = load_config(CONFIGS / "tae_shapes.py")
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        model = restore_params(TemporalAutoencoder(cfg.model, rngs=nnx.Rngs(0)), REPO / "assets" / "tae_shapes")
        for images in (False, True):
            clips = _clips(cfg, "heldout", images, 16)
            recon, _ = reconstruct(model, clips)
            flat = np.broadcast_to(clips.reshape(16, -1, 3).mean(1)[:, None, None, None, :], clips.shape)
            assert np.mean(psnr(clips, recon)) > 21.5
            assert np.mean(psnr(clips, recon)) > np.mean(psnr(clips, flat)) + 4.0


def test_phases_switch_on_at_their_steps_and_resume_is_exact(tmp_path, devices):
    cfg = micro_tae_config(disc_weight=0.5, disc_start=2, disc_channels=8, disc_layers=2, opl_weight=1e5,
                           opl_start=3)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, image_every=0),  # one shape: fewer compiles
                              train=TrainConfig(steps=4, log_every=1, checkpoint_every=2))
    train(cfg, tmp_path / "full", devices=devices[:1], verbose=False)
    rows = metrics(tmp_path / "full")
    assert "train/gan" not in rows[2] and "train/gan" in rows[3]  # step 3 logs the update made at step index 2
    assert "train/disc_loss" in rows[3] and np.isfinite(rows[3]["train/disc_adaptive_weight"])
    for step, opl_on in ((3, False), (4, True)):  # the total is each phase's sum of terms
        r = rows[step]
        expected = r["train/rec"] + 1e-6 * r["train/kl"] + 0.5 * r["train/disc_adaptive_weight"] * r["train/gan"]
        np.testing.assert_allclose(r["train/loss"], expected + (1e5 * r["train/opl"] if opl_on else 0.0), rtol=1e-4)
    train(cfg, tmp_path / "resumed", devices=devices[:1], verbose=False, stop_after=2)
    train(cfg, tmp_path / "resumed", devices=devices[:1], verbose=False)
    assert metrics(tmp_path / "resumed") == rows


def test_muon_run_resumes_exactly(tmp_path, devices):
    """configs/tae_shapes.py trains with Muon: its optimizer state (momenta, masked per parameter) survives a
    checkpoint, so a stopped and resumed run logs what an uninterrupted one does."""
    cfg = micro_tae_config()
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, image_every=0),
                              optim=dataclasses.replace(cfg.optim, optimizer="muon"),
                              train=TrainConfig(steps=4, log_every=1, checkpoint_every=2))
    train(cfg, tmp_path / "full", devices=devices[:1], verbose=False)
    train(cfg, tmp_path / "resumed", devices=devices[:1], verbose=False, stop_after=2)
    train(cfg, tmp_path / "resumed", devices=devices[:1], verbose=False)
    rows = metrics(tmp_path / "full")
    assert metrics(tmp_path / "resumed") == rows and rows[4]["train/psnr"] != rows[1]["train/psnr"]


def test_committed_natural_tae_beats_bicubic_on_photos_it_never_saw():
    """assets/tae_natural (made by the command in configs/tae_natural.py) reconstructs clips of the held-out photos
    well above downsampling them 4x and upsampling bicubically (an untrained or shapes-only TAE is far below it), and
    held-out Moving Shapes near tae_shapes' level."""
    cfg = load_config(CONFIGS / "tae_natural.py")
    real, shapes = _clips(cfg, "heldout", False, 16, real=True), _clips(cfg, "heldout", False, 8)
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        model = restore_params(TemporalAutoencoder(cfg.model, rngs=nnx.Rngs(0)), REPO / "assets" / "tae_natural")
        recon, _ = reconstruct(model, np.concatenate([real, shapes]))
    assert np.mean(psnr(real, recon[:16])) > np.mean(psnr(real, bicubic_roundtrip(real, 4))) + 1.0
    assert np.mean(psnr(shapes, recon[16:])) > 28.5
    assert bicubic_roundtrip(np.full((2, 8, 8, 3), 77, np.uint8), 4).tolist() == np.full((2, 8, 8, 3), 77).tolist()


def test_psnr_by_background_groups_clips_by_their_backdrop():
    report = psnr_by_background(np.array([30.0, 20.0, 32.0, 22.0]), ["plain", "noisy", "plain", "noisy"])
    assert report == {"plain": {"psnr": 31.0, "num": 2}, "noisy": {"psnr": 21.0, "num": 2}}


def test_codec_without_a_checkpoint_is_one_line(tmp_path):
    cfg = micro_tae_config()
    with pytest.raises(UserError, match="codec.checkpoint"):
        load_codec(codec_of(cfg))
    with pytest.raises(UserError, match="no checkpoint"):
        load_codec(codec_of(cfg, str(tmp_path)))


def test_random_crops_are_windows_of_each_clip():
    video = jax.numpy.arange(2 * 3 * 8 * 8 * 1, dtype=jax.numpy.float32).reshape(2, 3, 8, 8, 1)
    crops = np.asarray(random_crops(video, jax.random.key(0), 4))
    assert crops.shape == (2, 3, 4, 4, 1)
    for clip, crop in zip(np.asarray(video), crops):
        r, c = np.argwhere(clip[0, :, :, 0] == crop[0, 0, 0, 0])[0]
        np.testing.assert_array_equal(clip[:, r:r + 4, c:c + 4], crop)  # the same window in every frame
    assert random_crops(video, jax.random.key(0), 8) is video


def test_tae_step_skips_a_non_finite_update(devices):
    """A NaN clip gives a NaN loss: the TAE's weights and optimizer state stay, the skip is counted."""
    cfg = dataclasses.replace(micro_tae_config(), mesh=MeshConfig(data=1))
    mesh = make_mesh(cfg.mesh, devices[:1])
    with jax.set_mesh(mesh):
        task = task_for(cfg)
        state = task.init_state(fresh=True)
        step = jax.jit(task.make_step(task.phase(0)))
        batch = next(task.batches(0))
        before = jax.tree.map(np.asarray, state)
        bad = dict(batch, video=batch["video"].astype(np.float32) * np.nan)
        state, out = step(state, put_batch(bad, mesh, TAE_RULES))
        assert not np.isfinite(float(out["loss"])) and float(out["skipped"]) == 1.0
        for key in ("params", "opt_state"):
            for a, b in zip(jax.tree.leaves(state[key]), jax.tree.leaves(before[key])):
                np.testing.assert_array_equal(np.asarray(a), b)
        state, out = step(state, put_batch(batch, mesh, TAE_RULES))
        assert np.isfinite(float(out["loss"])) and float(out["skipped"]) == 0.0
