"""The DAC-VAE on files: encode a wav (or any file `data/audio_files.py` reads) to latents, decode latents to a wav,
reconstruct a file; and the spectrogram figure the evaluator and the README show.

Latents are an .npz: `latents` (frames, channels) float32 posterior means, with `sample_rate`, `hop`, `num_samples`
(the source's length at the model's rate, so decode gives exactly it back) and `config` (the model config's JSON,
checked against the decoder's). Outputs go to a temporary file renamed into place: an interrupted or failed command
leaves nothing half-written, and an existing file is replaced only with `overwrite`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import soundfile
from flax import nnx
from PIL import Image, ImageDraw

from mgjax.checkpoint.restore import restore_params
from mgjax.config.audio import DACVAEConfig
from mgjax.config.mesh import MeshConfig
from mgjax.data.audio_files import load_for_model
from mgjax.errors import UserError
from mgjax.models.audio.chunking import jit_chunked
from mgjax.models.audio.dac_vae import DACVAE
from mgjax.models.audio.losses import stft_magnitude
from mgjax.parallel.mesh import make_mesh

CHUNK_FRAMES = 250  # 10 s of latents per window at 25 frames/s: memory stays flat whatever the length


def check_free(path: str | pathlib.Path, overwrite: bool) -> pathlib.Path:
    path = pathlib.Path(path)
    if path.exists() and not overwrite:
        raise UserError(f"{str(path)!r} already exists; pass --overwrite to replace it, or choose another --out")
    if not path.parent.is_dir():
        raise UserError(f"the folder of --out {str(path)!r} does not exist")
    return path


def _atomic(path: pathlib.Path, write) -> pathlib.Path:
    """write(temporary path) then rename it to `path` (same folder, so the rename is atomic)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; the output gets a new file's usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_wav(path: str | pathlib.Path, audio: np.ndarray, sample_rate: int, overwrite: bool = False) -> pathlib.Path:
    """float (n,) or (n, 1) in [-1, 1] -> 16-bit PCM wav (clipped), written atomically."""
    path = check_free(path, overwrite)
    pcm = np.clip(np.asarray(audio, np.float32).reshape(-1), -1.0, 1.0)
    return _atomic(path, lambda tmp: soundfile.write(tmp, pcm, sample_rate, subtype="PCM_16", format="WAV"))


class AudioCodec:
    """A trained DAC-VAE (a run or an export) for whole files, chunked so memory does not grow with length."""

    def __init__(self, cfg: DACVAEConfig, workdir: str | pathlib.Path, chunk_frames: int = CHUNK_FRAMES):
        self.cfg = cfg
        with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
            self.model = restore_params(DACVAE(cfg, rngs=nnx.Rngs(0)), workdir)
        self.encode_fn, self.decode_fn = jit_chunked(self.model, chunk_frames)

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """(n, 1) -> posterior mean (ceil(n / hop), channels)."""
        mean, _ = self.encode_fn(jnp.asarray(audio[None], jnp.float32))
        return np.asarray(mean[0])

    def decode(self, latents: np.ndarray, num_samples: int | None = None) -> np.ndarray:
        return np.asarray(self.decode_fn(jnp.asarray(latents[None], jnp.float32), num_samples)[0])

    def config_json(self) -> str:
        return json.dumps(dataclasses.asdict(self.cfg), sort_keys=True)

    def load_input(self, path: str, downmix: bool, any_rate: bool) -> np.ndarray:
        audio, _ = load_for_model(path, self.cfg.sample_rate, downmix=downmix, any_rate=any_rate)
        return audio

    def save_latents(self, path: pathlib.Path, latents: np.ndarray, num_samples: int) -> pathlib.Path:
        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, latents=latents, num_samples=num_samples, sample_rate=self.cfg.sample_rate,
                         hop=self.model.hop, config=self.config_json())

        return _atomic(path, write)

    def read_latents(self, path: str) -> tuple[np.ndarray, int]:
        try:
            with np.load(path, allow_pickle=False) as f:
                latents, num_samples, config = f["latents"], int(f["num_samples"]), str(f["config"])
        except FileNotFoundError:
            raise UserError(f"latent file {path!r} not found") from None
        except Exception as e:
            raise UserError(f"{path!r} is not a latent file written by `python -m mgjax audio-encode` "
                            f"({type(e).__name__})") from None
        if config != self.config_json():
            raise UserError(f"{path!r} was encoded by a DAC-VAE with another config; decode it with that model's "
                            f"--workdir")
        if latents.ndim != 2 or latents.shape[1] != self.cfg.latent_channels or len(latents) == 0:
            raise UserError(f"{path!r} holds latents of shape {latents.shape}, not (frames, "
                            f"{self.cfg.latent_channels})")
        if not (len(latents) - 1) * self.model.hop < num_samples <= len(latents) * self.model.hop:
            raise UserError(f"{path!r} says {num_samples} samples, which {len(latents)} latent frames of hop "
                            f"{self.model.hop} cannot hold")
        return latents.astype(np.float32), num_samples


# A perceptual colour ramp (dark blue -> purple -> orange -> pale yellow), interpolated to 256 entries.
_RAMP = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21],
                  [250, 193, 39], [252, 255, 164]], np.float32)
_LUT = np.stack([np.interp(np.linspace(0, len(_RAMP) - 1, 256), np.arange(len(_RAMP)), _RAMP[:, c])
                 for c in range(3)], axis=1).astype(np.uint8)


def spectrogram_image(rows: list[tuple[str, np.ndarray]], sample_rate: int, window: int = 512,
                      floor_db: float = 80.0, height: int = 200, width: int = 800) -> Image.Image:
    """Log-magnitude spectrograms (frequency up, one shared dB scale from the loudest row's peak), one labelled row
    per (label, (n,) or (n, 1) audio)."""
    mags = [np.asarray(stft_magnitude(jnp.asarray(np.reshape(a, (1, -1))), window))[0] for _, a in rows]
    top = max(20 * np.log10(max(float(m.max()), 1e-9)) for m in mags)
    images = []
    for (label, _), mag in zip(rows, mags):
        db = np.clip((20 * np.log10(np.maximum(mag, 1e-9)) - top + floor_db) / floor_db, 0, 1)
        picture = Image.fromarray(_LUT[(db.T[::-1] * 255).astype(np.uint8)])
        picture = picture.resize((width, height), Image.Resampling.BILINEAR)
        ImageDraw.Draw(picture).text((4, 2), f"{label} (0-{sample_rate // 2000} kHz)", fill=(255, 255, 255))
        images.append(picture)
    sheet = Image.new("RGB", (width, sum(i.height + 2 for i in images)), (255, 255, 255))
    y = 0
    for picture in images:
        sheet.paste(picture, (0, y))
        y += picture.height + 2
    return sheet


def write_png(path: str | pathlib.Path, image: Image.Image, overwrite: bool = True) -> pathlib.Path:
    """As a 256-colour PNG: the spectrograms hold only the ramp's colours and white, at a fraction of RGB's size."""
    path = check_free(path, overwrite)
    return _atomic(path, lambda tmp: image.quantize(256).save(tmp, format="PNG", optimize=True))

