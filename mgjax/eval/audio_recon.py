"""Evaluate a trained DAC-VAE: held-out reconstruction beside baselines at the codec's bitrate.

`python -m mgjax eval --config configs/dac_vae_tiny.py --workdir runs/dac_vae_tiny [--num 64]`

Clips of 2 s: the procedural set's held-out stream (a model trained on `audio_folder` is measured on centre crops of
its folder's files instead; hold files out of data.root to make them unseen). Metrics are DAC's: the multi-scale mel
distance, the multi-scale STFT distance (both lower is better) and SI-SDR in dB, each a mean over clips.

The codec's latents are decoded after a round trip through bfloat16, so its bitrate is frames/s x channels x 16 bits
(25 x 16 x 16 = 6.4 kbps for the tiny config, 51.2 kbps for the paper's). Two baselines spend the same bits:
- `resample`: the audio resampled (soxr) down to as many 16-bit samples per second as the codec stores latent values,
  and back up;
- `mu-law`: 8-bit mu-law (255) at twice that rate, as G.711 codes telephone speech.
A third row, mu-law 8-bit at the full rate (20x the tiny codec's bits), shows what a near-transparent coder scores.

Writes `eval/audio_recon.json`, and per written clip `eval/dac_NN_input.wav` and `eval/dac_NN_recon.wav`, and
`eval/spectrograms.png` (input above reconstruction for the first clips).
"""

from __future__ import annotations

import functools
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.checkpoint.orbax import open_existing
from mgjax.checkpoint.restore import restore_params
from mgjax.checkpoint.safetensors_weights import export_step, is_export
from mgjax.config.geometry import audio_hop
from mgjax.config.schema import Config
from mgjax.data.audio_files import index_audio_folder, normalise_loudness, read_audio, resample, to_mono
from mgjax.data.procedural_audio import ProceduralAudio
from mgjax.models.audio.chunking import jit_chunked
from mgjax.models.audio.dac_vae import DACVAE
from mgjax.models.audio.losses import mel_distance, si_sdr, stft_distance
from mgjax.parallel.mesh import make_mesh
from mgjax.pipelines.audio_io import CHUNK_FRAMES, spectrogram_image, write_png, write_wav

EVAL_SECONDS = 2.0
LATENT_BITS = 16
MU = 255.0


def codec_bitrate(cfg: Config) -> float:
    m = cfg.model
    return m.sample_rate / audio_hop(m.strides) * m.latent_channels * LATENT_BITS


def resample_roundtrip(audio: np.ndarray, sample_rate: int, rate: int, bits: int = 16) -> np.ndarray:
    """(b, n, 1) -> down to `rate`, quantised to `bits` linear PCM, back up: the same shape."""
    out = []
    for clip in audio:
        low = resample(clip, sample_rate, rate)
        low = np.round(np.clip(low, -1, 1) * (2 ** (bits - 1) - 1)) / (2 ** (bits - 1) - 1)
        out.append(_fit(resample(low.astype(np.float32), rate, sample_rate), len(clip)))
    return np.stack(out)


def mu_law_roundtrip(audio: np.ndarray, sample_rate: int, rate: int, bits: int = 8) -> np.ndarray:
    """(b, n, 1) -> down to `rate`, mu-law coded to `bits` (mu = 255), decoded, back up."""
    levels = 2 ** bits - 1
    out = []
    for clip in audio:
        low = np.clip(resample(clip, sample_rate, rate), -1, 1)
        code = np.round((np.sign(low) * np.log1p(MU * np.abs(low)) / np.log1p(MU) + 1) / 2 * levels)
        y = code / levels * 2 - 1
        low = np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU
        out.append(_fit(resample(low.astype(np.float32), rate, sample_rate), len(clip)))
    return np.stack(out)


def _fit(clip: np.ndarray, n: int) -> np.ndarray:
    return np.pad(clip[:n], ((0, max(n - len(clip), 0)), (0, 0)))


def reconstruct(model: DACVAE, audio: np.ndarray, batch: int = 8) -> np.ndarray:
    """(b, n, 1) -> decoded posterior means after a bfloat16 round trip, `batch` clips at a time."""
    encode, decode = jit_chunked(model, CHUNK_FRAMES)
    out = []
    for i in range(0, len(audio), batch):
        mean, _ = encode(jnp.asarray(audio[i:i + batch]))
        out.append(np.asarray(decode(mean.astype(jnp.bfloat16).astype(jnp.float32), audio.shape[1])))
    return np.concatenate(out)


@functools.cache
def _clip_scorer(sample_rate: int):
    return jax.jit(lambda r, t: (mel_distance(r, t, sample_rate), stft_distance(r, t), si_sdr(r, t)[0]))


def audio_scores(recon: np.ndarray, target: np.ndarray, sample_rate: int) -> dict:
    """Means over clips of DAC's mel distance, STFT distance and SI-SDR (dB)."""
    one = _clip_scorer(sample_rate)
    values = np.array([[float(v) for v in one(jnp.asarray(r[None]), jnp.asarray(t[None]))]
                       for r, t in zip(recon, target)])
    return {"mel": float(values[:, 0].mean()), "stft": float(values[:, 1].mean()),
            "si_sdr": float(values[:, 2].mean())}


def heldout_clips(cfg: Config, num: int) -> tuple[np.ndarray, str]:
    sr = cfg.model.sample_rate
    n = int(EVAL_SECONDS * sr)
    if cfg.data.source != "audio_folder":
        source = ProceduralAudio("heldout", sample_rate=sr, num_samples=n, seed=cfg.data.seed)
        return np.stack([source[i]["audio"] for i in range(num)]), "procedural audio, held-out stream"
    entries, _ = index_audio_folder(cfg.data.root, EVAL_SECONDS)
    clips = []
    for rel, info in entries[:num]:
        need = int(np.ceil(n * info.sample_rate / sr)) + 64
        audio, rate = read_audio(pathlib.Path(cfg.data.root) / rel, max((info.frames - need) // 2, 0), need)
        clips.append(normalise_loudness(_fit(resample(to_mono(audio), rate, sr), n), cfg.data.audio.loudness_dbfs))
    return np.stack(clips), f"centre crops of {len(clips)} files under {cfg.data.root}"


def evaluate(cfg: Config, workdir: str | pathlib.Path, num: int | None = None, write: int | None = None) -> dict:
    workdir = pathlib.Path(workdir)
    num = cfg.eval.num_samples if num is None else num
    write = min(cfg.eval.num_videos_to_write if write is None else write, num)
    sr = cfg.model.sample_rate
    step = export_step(workdir) if is_export(workdir) else open_existing(workdir).latest_step()
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        model = restore_params(DACVAE(cfg.model, rngs=nnx.Rngs(0)), workdir)
    audio, source = heldout_clips(cfg, num)
    recon = reconstruct(model, audio)
    bitrate = codec_bitrate(cfg)
    matched = round(bitrate / 16)
    result = {"step": step, "num": len(audio), "seconds": EVAL_SECONDS, "source": source, "sample_rate": sr,
              "bitrate": bitrate, "dac_vae": audio_scores(recon, audio, sr),
              "baselines": {
                  f"resample to {matched} Hz, 16-bit": dict(
                      audio_scores(resample_roundtrip(audio, sr, matched), audio, sr), bitrate=matched * 16),
                  f"mu-law 8-bit at {2 * matched} Hz": dict(
                      audio_scores(mu_law_roundtrip(audio, sr, 2 * matched), audio, sr), bitrate=2 * matched * 8),
                  f"mu-law 8-bit at {sr} Hz": dict(audio_scores(mu_law_roundtrip(audio, sr, sr), audio, sr),
                                                   bitrate=sr * 8)}}
    out = workdir / "eval"
    out.mkdir(parents=True, exist_ok=True)
    for i in range(write):
        write_wav(out / f"dac_{i:02d}_input.wav", audio[i], sr, overwrite=True)
        write_wav(out / f"dac_{i:02d}_recon.wav", recon[i], sr, overwrite=True)
    if write:
        rows = [row for i in range(min(write, 2)) for row in ((f"clip {i} input", audio[i]),
                                                              (f"clip {i} DAC-VAE", recon[i]))]
        write_png(out / "spectrograms.png", spectrogram_image(rows, sr))
    (out / "audio_recon.json").write_text(json.dumps(result, indent=2))
    return result


def summary(r: dict) -> str:
    rows = [(f"DAC-VAE ({r['bitrate'] / 1000:g} kbps as bfloat16)", r["dac_vae"])]
    rows += [(f"{name} ({b['bitrate'] / 1000:g} kbps)", b) for name, b in r["baselines"].items()]
    width = max(len(label) for label, _ in rows)
    lines = [f"held-out reconstruction of {r['num']} clips of {r['seconds']:g} s at {r['sample_rate']} Hz "
             f"({r['source']}; checkpoint step {r['step']})",
             f"{'codec':<{width}}  {'mel':>6}  {'STFT':>6}  {'SI-SDR':>7}"]
    lines += [f"{label:<{width}}  {s['mel']:6.3f}  {s['stft']:6.3f}  {s['si_sdr']:6.2f} dB" for label, s in rows]
    return "\n".join(lines)
