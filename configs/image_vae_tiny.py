"""The spatial upsampler's frame-wise image VAE at CPU size (paper §3.1.7): 4x4 spatial compression to 16 channels,
latent frames = pixel frames (codec kind `image_vae`).

The tiny TAE's architecture (`tae_shapes.py`: widths 16-32, one res block per level, spatial attention in the middle
block) with nothing temporal, trained by the `tae` task on 64x64 images of natural content (`natural_clips`: Moving
Shapes with textured backgrounds, 1/f textures and scikit-image's photos, three held out), on random 32x32 crops.

`python train.py --config configs/image_vae_tiny.py --workdir runs/image_vae_tiny`, then
`python -m mgjax eval --config configs/image_vae_tiny.py --workdir runs/image_vae_tiny` (held-out PSNR beside bicubic
4x, and the latent statistics the codec normalises with).
"""

import dataclasses

from configs.tae_natural import get_config as tae_natural
from mgjax.config import Config, MovingShapesConfig, TAEConfig


def get_config() -> Config:
    base = tae_natural()
    return dataclasses.replace(
        base,
        name="image_vae_tiny",
        model=TAEConfig(base_channels=16, channel_mult=(1, 2, 2), num_res_blocks=1, temporal_downsample=(False, False),
                        temporal_kernel=1, temporal_attention=False, num_groups=8, encode_tile_frames=16,
                        decode_tile_frames=16, decode_tile_overlap=0),
        loss=dataclasses.replace(base.loss, train_crop=32, opl_start=6500, disc_start=7000),
        data=dataclasses.replace(base.data, num_frames=1, height=64, width=64, batch_size=16, image_every=0,
                                 shapes=MovingShapesConfig(textured_prob=0.8)),
        train=dataclasses.replace(base.train, steps=7000, checkpoint_every=1000),
    )
