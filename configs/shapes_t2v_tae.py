"""The CPU demo in the paper's setup: the tiny Movie Gen Video transformer trained in a TAE's latent space.

The tiny TAE (`configs/tae_shapes.py`: 4x compression in t, h and w, 16 channels; its weights are committed under
assets/tae_shapes) encodes a 4-frame 32x32 clip to one 8x8x16 latent frame, which patchify (1, 2, 2) turns into 16
tokens of 64 values. As in the paper the network predicts the velocity; everything else is `shapes_t2v_tiny.py`.

`python train.py --config configs/shapes_t2v_tae.py --workdir runs/shapes_t2v_tae`
"""

import dataclasses
import pathlib

from mgjax.config import CodecConfig, Config, FlowConfig, load_config
from mgjax.config.geometry import tae_compression

HERE = pathlib.Path(__file__).resolve().parent


def get_config() -> Config:
    base = load_config(HERE / "shapes_t2v_tiny.py")
    tae = load_config(HERE / "tae_shapes.py").model
    return dataclasses.replace(
        base,
        name="shapes_t2v_tae",
        model=dataclasses.replace(base.model, in_channels=tae.latent_channels, max_patches=(2, 4, 4)),
        codec=CodecConfig(kind="tae", factors=tae_compression(tae), latent_channels=tae.latent_channels, tae=tae,
                          checkpoint=str(HERE.parent / "assets" / "tae_shapes")),
        flow=FlowConfig(prediction="velocity"),
    )
