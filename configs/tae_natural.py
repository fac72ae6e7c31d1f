"""A tiny TAE for CPU trained on natural content: tae_shapes' latent interface (4x4x4, 16 channels) for real footage.

`tae_shapes.py` learns Moving Shapes only and reconstructs real photos worse than downsampling them 4x and upsampling
bicubically. This one trains on `data.source=natural_clips` (mgjax/data/natural_clips.py): Moving Shapes, 1/f-noise
textures and scikit-image's sample photos under a moving camera, three photos held out.

`python train.py --config configs/tae_natural.py --workdir runs/tae_natural`, then
`python -m mgjax eval --config configs/tae_natural.py --workdir runs/tae_natural`.
"""

import dataclasses

from configs.tae_shapes import get_config as tae_shapes
from mgjax.config import Config


def get_config() -> Config:
    base = tae_shapes()
    return dataclasses.replace(
        base,
        name="tae_natural",
        data=dataclasses.replace(base.data, source="natural_clips"),
    )
