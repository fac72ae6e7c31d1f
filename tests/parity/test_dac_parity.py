"""The DAC-VAE's encoder and decoder against `transformers`' DacModel on torch CPU (marker `parity`).

tests/parity/dac_reference.py (in .venv-parity) builds two tiny random DacModels with weight norm (g moved off |v|,
Snake alphas and biases moved off their initial values), saves each in three spellings (transformers with weight-norm
parametrizations, transformers plain, descript-audio-codec's own layout with weight_g / weight_v) and records the
encoder's output before the quantiser and the decoder's output from given latents. mgjax converts every file and must
match in fp32.
"""

from __future__ import annotations

import json
import pathlib
import subprocess

import jax
import numpy as np
import pytest
from flax import nnx

from mgjax.config import MeshConfig
from mgjax.config.audio import DACVAEConfig
from mgjax.convert.dac import load_dac
from mgjax.convert.safetensors import Checkpoint
from mgjax.models.audio.losses import MEL_BINS, MEL_WINDOWS, mel_distance, mel_filterbank, stft_magnitude
from mgjax.models.audio.dac_vae import DACVAE
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import DAC_VAE_RULES, use_rules

pytestmark = pytest.mark.parity

HERE = pathlib.Path(__file__).resolve().parent
CFG = DACVAEConfig(sample_rate=16_000, encoder_dim=8, strides=(2, 4, 8, 10), decoder_dim=64, latent_channels=8)
SAMPLES, FRAMES = 640 * 6, 6
RTOL = 1e-5


@pytest.fixture(scope="module")
def reference(parity_python, tmp_path_factory) -> pathlib.Path:
    work = tmp_path_factory.mktemp("dac_parity")
    spec = {"encoder_dim": CFG.encoder_dim, "strides": list(CFG.strides), "decoder_dim": CFG.decoder_dim,
            "latent_channels": CFG.latent_channels, "sample_rate": CFG.sample_rate}
    (work / "spec.json").write_text(json.dumps(spec))
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLES) / CFG.sample_rate
    audio = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(SAMPLES)).astype(np.float32)
    latents = rng.standard_normal((1, CFG.latent_channels, FRAMES)).astype(np.float32)
    distorted = np.tanh(2 * audio) / 2 + 0.01 * rng.standard_normal(SAMPLES).astype(np.float32)
    np.savez(work / "inputs.npz", audio=audio[None, None], latents=latents, distorted=distorted[None, None])
    run = subprocess.run([str(parity_python), str(HERE / "dac_reference.py"), str(work)], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    return work


def relative_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))


@pytest.mark.parametrize("spelling", ["hf_weightnorm", "hf_plain", "dac_layout"])
def test_dac_vae_matches_transformers_dac(reference, spelling):
    inputs, outputs = np.load(reference / "inputs.npz"), np.load(reference / "outputs.npz")
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])), use_rules(DAC_VAE_RULES):
        encoder_side = DACVAE(CFG, rngs=nnx.Rngs(0))
        decoder_side = DACVAE(CFG, rngs=nnx.Rngs(0))
    load_dac(encoder_side, Checkpoint(reference / f"encoder_{spelling}.safetensors"), parts=("encoder",))
    load_dac(decoder_side, Checkpoint(reference / f"decoder_{spelling}.safetensors"), parts=("decoder",))
    moments = np.asarray(encoder_side.encoder(inputs["audio"].transpose(0, 2, 1)))
    audio = np.asarray(decoder_side.decoder(inputs["latents"].transpose(0, 2, 1)))
    assert moments.shape == (1, FRAMES, 2 * CFG.latent_channels) and audio.shape == (1, SAMPLES, 1)
    assert relative_error(moments, outputs["moments"].transpose(0, 2, 1)) < RTOL
    assert relative_error(audio, outputs["audio"].transpose(0, 2, 1)) < RTOL


def test_stft_mel_filterbank_and_mel_distance_match_torch_and_transformers(reference):
    inputs, outputs = np.load(reference / "inputs.npz"), np.load(reference / "outputs.npz")
    audio = inputs["audio"][:, 0]
    for window, bins in zip(MEL_WINDOWS, MEL_BINS):
        np.testing.assert_allclose(mel_filterbank(CFG.sample_rate, window, bins), outputs[f"bank_{window}"],
                                   rtol=1e-5, atol=1e-7)
        theirs = outputs[f"stft_{window}"]
        np.testing.assert_allclose(np.asarray(stft_magnitude(audio, window)), theirs, atol=1e-5 * theirs.max())
    ours = float(mel_distance(inputs["distorted"][:, 0], audio, CFG.sample_rate))
    assert abs(ours - float(outputs["mel_distance"])) < 1e-4 * float(outputs["mel_distance"]) and ours > 0.1
