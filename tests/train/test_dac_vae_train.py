"""The DAC-VAE task (mgjax/train/tasks/dac_vae.py): trains through both phases on procedural audio, learns, and
refuses configs it cannot train in one line."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import soundfile

from conftest import CONFIGS
from mgjax.config import load_config
from mgjax.config.audio import DACVAELossConfig
from mgjax.config.data import AudioDataConfig
from mgjax.errors import UserError
from mgjax.checkpoint.orbax import open_existing
from mgjax.train.loop import train
from mgjax.train.tasks import validate
from mgjax.train.tasks.dac_vae import DACVAETask


def micro(disc_start: int, steps: int):
    cfg = load_config(CONFIGS / "dac_vae_tiny.py")
    return dataclasses.replace(
        cfg, loss=dataclasses.replace(cfg.loss, disc_start=disc_start, periods=(2,), fft_sizes=(512,)),
        data=dataclasses.replace(cfg.data, batch_size=2, audio=AudioDataConfig(seconds=0.16)),
        optim=dataclasses.replace(cfg.optim, learning_rate=1e-3, warmup_steps=0, decay="constant"),
        train=dataclasses.replace(cfg.train, steps=steps, log_every=1, checkpoint_every=steps))


def audio_folder(root):
    """Three files at other rates and channel counts, and one unreadable."""
    root.mkdir()
    rng = np.random.default_rng(0)
    for i, (rate, channels) in enumerate(((16_000, 1), (44_100, 2), (22_050, 1))):
        soundfile.write(root / f"{i}.flac", 0.1 * rng.standard_normal((rate, channels)).astype(np.float32), rate)
    (root / "broken.wav").write_bytes(b"RIFF....WAVEfmt nonsense")
    return root


def test_trains_through_both_phases_on_a_folder_of_audio_files(tmp_path, devices):
    """The generator-only phase, then the adversarial one (discriminator updates, feature matching), all finite, on
    data.source=audio_folder: files cropped, resampled and mixed down; the unreadable one skipped and, with the
    pipeline's step, saved in the checkpoint. What a trained model reaches is measured on the committed one
    (tests/eval/test_audio_recon.py), not in a few steps here."""
    cfg = micro(disc_start=2, steps=4)
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="audio_folder",
                                                            root=str(audio_folder(tmp_path / "audio"))))
    validate(cfg)
    train(cfg, tmp_path / "run", devices=devices[:1], verbose=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "train/mel" in r]
    assert len(rows) == 4 and all("train/disc_loss" not in r for r in rows[:2])
    assert all(r["train/disc_loss"] > 0 and r["train/feature_matching"] > 0 for r in rows[2:])
    assert all(r["train/skipped_updates"] == 0 and math.isfinite(r["train/loss"]) for r in rows)
    assert open_existing(tmp_path / "run").restore_meta(4)["data"] == {"step": 4, "bad": ["broken.wav"]}
    with pytest.raises(UserError, match="data.source=audio_folder needs data.root"):
        validate(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, root="")))


def test_procedural_batches_are_a_function_of_the_step():
    task = DACVAETask(micro(disc_start=0, steps=6))
    late = list(task.batches(3))
    early = list(task.batches(0))
    assert len(early) == 6 and len(late) == 3 and early[0]["audio"].shape == (2, 2560, 1)
    assert all(np.array_equal(a["audio"], b["audio"]) for a, b in zip(early[3:], late))
    assert not np.array_equal(early[0]["audio"], early[1]["audio"]) and task.data_state() is None


def test_configs_it_cannot_train_are_refused_in_one_line():
    cfg = micro(disc_start=0, steps=1)
    with pytest.raises(UserError, match="multiple of the hop"):
        validate(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, audio=AudioDataConfig(seconds=0.1))))
    with pytest.raises(UserError, match="set data.source to procedural_audio or audio_folder"):
        validate(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="moving_shapes")))
    with pytest.raises(UserError, match="has no captions"):
        validate(dataclasses.replace(load_config(CONFIGS / "shapes_t2v_tiny.py"),
                                     data=dataclasses.replace(cfg.data, source="procedural_audio")))
    assert isinstance(cfg.loss, DACVAELossConfig)
