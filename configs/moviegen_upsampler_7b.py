"""The Movie Gen spatial upsampler at paper size (paper §3.1.7; spec §4): 7B, 2x, 14-frame windows overlapping by 4.

The paper gives 7B parameters and no shape. Ours: 32 layers, width 3584, FFN 10752, 28 heads (head dim 128, as the
30B's), with the 30B's text encoders (projected to 3584), patch (1, 2, 2) over a frame-wise image VAE's 16 channels
(the TAE's architecture with nothing temporal: 8x8 spatial, latent frames = pixel frames) plus 16 zero-initialised
channels for the encoded low-resolution video. Clips: 14 frames (a window) at 1088x1920 (1080p rounded up to the 16 px
the VAE and patchify need) from 544x960 inputs; ~20 Euler steps, no text guidance. The paper trains on ~400K HD
videos: `--set data.source=video_folder --set data.root=DIR` (the 1080p bucket and 14-frame clips are set here), and
`--set data.upsample.tae.checkpoint=TAE_RUN` for the TAE round trips (Real-ESRGAN-style degradations as configured).

Checked abstractly, never allocated on CPU: `python -m mgjax inspect --config configs/moviegen_upsampler_7b.py`.
"""

import dataclasses
import pathlib

from mgjax.config import CodecConfig, load_config, video_model
from mgjax.config.data import UpsampleDataConfig
from mgjax.config.upsample import upsampler_model

HERE = pathlib.Path(__file__).resolve().parent


def get_config():
    base = load_config(HERE / "moviegen_video_30b.py")
    paper_tae = load_config(HERE / "tae_paper.py").model
    image_vae = dataclasses.replace(paper_tae, temporal_downsample=(False, False, False), temporal_kernel=1,
                                    temporal_attention=False, decode_tile_overlap=0, encode_tile_frames=14,
                                    decode_tile_frames=14)
    return dataclasses.replace(
        base,
        name="moviegen_upsampler_7b",
        task="upsample",
        model=upsampler_model(video_model("7B", patch_size=(1, 2, 2), in_channels=16, max_patches=(14, 68, 120),
                                          dtype="bfloat16", remat="full"), scale=2),
        codec=CodecConfig(kind="image_vae", factors=(1, 8, 8), latent_channels=16, tae=image_vae),
        data=dataclasses.replace(base.data, source="natural_clips", num_frames=14, height=1088, width=1920,
                                 fps=24, batch_size=64, aspect_sizes=((1088, 1920),),
                                 duration_buckets=((14, 0.5, 1e9),),
                                 upsample=UpsampleDataConfig(tae_prob=0.3, tae=dataclasses.replace(base.codec))),
        sample=dataclasses.replace(base.sample, num_steps=20, linear_steps=10, linear_reference_steps=100,
                                   cfg_scale=1.0, window_frames=14, window_overlap=4),
    )
