"""A tiny TAE for CPU trained on natural content: tae_shapes' latent interface (4x4x4, 16 channels) for real footage.

`tae_shapes.py` learns Moving Shapes only and reconstructs real photos worse than downsampling them 4x and upsampling
bicubically. This one trains on `data.source=natural_clips` (mgjax/data/natural_clips.py): Moving Shapes (weight 0.4),
1/f-noise textures (0.15) and scikit-image's sample photos under a moving camera (0.45), three photos held out. Same
architecture, loss and optimizer as tae_shapes; 9,000 steps (the content is harder), the outlier penalty for the last
500. The mix and the figures: docs/tae.md.

Trained in 1,547 s (26 min) on 2 CPU cores; held-out (`eval`, 64 clips / images), TAE vs bicubic 4x: real photos video
29.95 vs 27.68 dB, images 32.76 vs 27.13; Moving Shapes video 30.75 vs 23.37, images 31.84 vs 22.30. Committed as
`assets/tae_natural`:

`python train.py --config configs/tae_natural.py --workdir runs/tae_natural`, then
`python -m mgjax eval --config configs/tae_natural.py --workdir runs/tae_natural` and
`python -m mgjax export --config configs/tae_natural.py --workdir runs/tae_natural --out assets/tae_natural`.
"""

import dataclasses

from configs.tae_shapes import get_config as tae_shapes
from mgjax.config import Config, NaturalClipsConfig


def get_config() -> Config:
    base = tae_shapes()
    return dataclasses.replace(
        base,
        name="tae_natural",
        data=dataclasses.replace(base.data, source="natural_clips",
                                 natural=NaturalClipsConfig(shapes_weight=0.4, procedural_weight=0.15,
                                                            photo_weight=0.45)),
        loss=dataclasses.replace(base.loss, opl_start=8500, disc_start=9000),
        train=dataclasses.replace(base.train, steps=9000, checkpoint_every=3000),
    )
