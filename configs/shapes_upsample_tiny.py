"""The spatial upsampler at CPU size (paper §3.1.7): 32x32 -> 64x64 (2x), any number of frames.

The tiny text-to-image parent (`shapes_t2i_tiny.py`: 4 layers of width 128 in the image VAE's 16x16x16 latents) with
16 zero-initialised input channels for the low-resolution video (bilinearly upsampled to 64x64, then encoded by the same
image VAE), fine-tuned on natural content at 64x64 (Moving Shapes on textured backgrounds, 1/f textures and
scikit-image's photos, three held out) degraded Real-ESRGAN style (mgjax/config/degradation.py) and, 30% of the time,
passed through the tiny TAE (assets/tae_natural), as a generated video's frames are. A zero-initialised skip maps each
patch of the conditioning latent straight to the output (`model.cond_skip`, with a gain of 16 so Adam can reach the
identity in tens of steps: docs/upsample.md). Training clips are 2 frames at random temporal positions of the 14-frame
sampling windows, 16 per step (more distinct content per step than 4 clips of 8 frames, at the same pixels).
Sampling: 20 Euler steps, MultiDiffusion windows of 14 frames overlapping by 4 (the paper's), no text guidance.

`python train.py --config configs/shapes_upsample_tiny.py --workdir runs/shapes_upsample_tiny` (reads
runs/shapes_t2i_tiny; `make upsample` trains both), then `python -m mgjax eval --config configs/shapes_upsample_tiny.py
--workdir runs/shapes_upsample_tiny` (held-out PSNR / SSIM beside bicubic and bilinear, seams, the figure).
"""

import dataclasses
import pathlib

from mgjax.config import CodecConfig, Config, NaturalClipsConfig, load_config
from mgjax.config.data import UpsampleDataConfig
from mgjax.config.geometry import tae_compression
from mgjax.config.upsample import upsampler_model

HERE = pathlib.Path(__file__).resolve().parent
PARENT = "runs/shapes_t2i_tiny"  # the text-to-image run this model starts from


def tae_roundtrip_codec() -> CodecConfig:
    """The committed tiny TAE (`tae_natural.py`), whose round trip gives the low-resolution inputs TAE artifacts."""
    tae = load_config(HERE / "tae_natural.py").model
    return CodecConfig(kind="tae", factors=tae_compression(tae), latent_channels=tae.latent_channels, tae=tae,
                       checkpoint=str(HERE.parent / "assets" / "tae_natural"))


def get_config() -> Config:
    base = load_config(HERE / "shapes_t2i_tiny.py")
    return dataclasses.replace(
        base,
        name="shapes_upsample_tiny",
        task="upsample",
        model=upsampler_model(base.model, scale=2, cond_skip=True, cond_skip_gain=16.0),
        data=dataclasses.replace(base.data, source="natural_clips", num_frames=2, batch_size=16,
                                 natural=NaturalClipsConfig(shapes_weight=0.4, procedural_weight=0.2,
                                                            photo_weight=0.4),
                                 upsample=UpsampleDataConfig(tae_prob=0.3, tae=tae_roundtrip_codec())),
        sample=dataclasses.replace(base.sample, num_steps=20, linear_steps=10, linear_reference_steps=100,
                                   cfg_scale=1.0, window_frames=14, window_overlap=4),
        train=dataclasses.replace(base.train, steps=2200, init_from=PARENT, checkpoint_every=550),
        eval=dataclasses.replace(base.eval, num_samples=32),
    )
