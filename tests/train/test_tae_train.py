"""TAE training through the shared loop: it learns, its adversarial and outlier-penalty phases switch on at their
steps, it resumes exactly, and the evaluation writes the latent statistics the video model's codec reads."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from mgjax.config import (CodecConfig, Config, DataConfig, MeshConfig, OptimConfig, TAEConfig, TAELossConfig,
                          TrainConfig)
from mgjax.eval.tae_recon import evaluate
from mgjax.parallel.mesh import make_mesh
from mgjax.pipelines.codec import load_codec
from mgjax.train.loop import train


def micro_tae_config(**loss) -> Config:
    return Config(
        name="micro_tae", task="tae",
        codec=CodecConfig(kind="tae", factors=(2, 4, 4), latent_channels=4,
                          tae=TAEConfig(base_channels=8, channel_mult=(1, 2, 2), num_res_blocks=1,
                                        temporal_downsample=(True, False), latent_channels=4, num_groups=4,
                                        encode_tile_frames=4, decode_tile_frames=4, decode_tile_overlap=2)),
        data=DataConfig(num_frames=4, height=16, width=16, fps_prefix=False, batch_size=4, image_every=4,
                        textured_prob=0.0),
        optim=OptimConfig(learning_rate=3e-3, warmup_steps=5, weight_decay=0.0, ema_decay=0.0),
        tae_loss=dataclasses.replace(TAELossConfig(disc_weight=0.0, opl_weight=0.0), **loss),
        train=TrainConfig(steps=8, log_every=1, checkpoint_every=4),
        mesh=MeshConfig(data=-1),
    )


def metrics(workdir):
    return {r["step"]: r for r in map(json.loads, (workdir / "metrics.jsonl").read_text().splitlines())}


@pytest.mark.slow
def test_tae_learns_to_reconstruct(tmp_path, devices):
    cfg = dataclasses.replace(micro_tae_config(), train=TrainConfig(steps=120, log_every=20, checkpoint_every=120))
    train(cfg, tmp_path, devices=devices[:1], verbose=False)
    rows = metrics(tmp_path)
    assert rows[120]["train/psnr"] > rows[20]["train/psnr"] + 4.0  # dB
    result = evaluate(cfg, tmp_path, num=8, write=1)
    assert result["video"]["psnr"] > 18.0 and result["image"]["psnr"] > 18.0
    stats = json.loads((tmp_path / "latent_stats.json").read_text())
    assert len(stats["shift"]) == len(stats["scale"]) == 4
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        codec = load_codec(dataclasses.replace(cfg.codec, checkpoint=str(tmp_path)))
        video = np.random.default_rng(0).uniform(-1, 1, (1, 4, 16, 16, 3)).astype(np.float32)
        z = codec.encode(video)
        assert z.shape == (1, 2, 4, 4, 4) == (1, *codec.latent_shape(4, 16, 16))
        assert codec.decode(z, 4).shape == video.shape


def test_phases_switch_on_at_their_steps_and_resume_is_exact(tmp_path, devices):
    cfg = micro_tae_config(disc_weight=0.5, disc_start=2, disc_channels=8, disc_layers=2, opl_weight=1e5,
                           opl_start=3)
    train(cfg, tmp_path / "full", devices=devices[:1], verbose=False)
    rows = metrics(tmp_path / "full")
    assert "train/gan" not in rows[2] and "train/gan" in rows[3]  # step 3 logs the update made at step index 2
    assert "train/disc_loss" in rows[3] and np.isfinite(rows[3]["train/disc_adaptive_weight"])
    assert rows[4]["train/opl"] >= 0.0
    train(cfg, tmp_path / "resumed", devices=devices[:1], verbose=False, stop_after=4)
    train(cfg, tmp_path / "resumed", devices=devices[:1], verbose=False)
    assert metrics(tmp_path / "resumed") == rows


def test_codec_without_a_checkpoint_is_one_line(tmp_path):
    from mgjax.errors import UserError

    cfg = micro_tae_config()
    with pytest.raises(UserError, match="codec.checkpoint"):
        load_codec(cfg.codec)
    with pytest.raises(UserError, match="no checkpoint"):
        load_codec(dataclasses.replace(cfg.codec, checkpoint=str(tmp_path)))
