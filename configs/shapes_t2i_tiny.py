"""The spatial upsampler's parent: a tiny text-to-image model at the output resolution (paper §3.1.7: the upsampler
is initialised from a text-to-image model trained at 1024 px).

`shapes_t2v_tiny.py`'s transformer (4 layers of width 128, patchify (1, 2, 2)) trained on 64x64 Moving Shapes images
(80% on textured backgrounds) in the latents of the upsampler's frame-wise image VAE (`image_vae_tiny.py`, committed
as assets/image_vae_tiny: 16x16x16 latents, 64 tokens). Its temporal position table already has the 14 rows of the
upsampler's windows, so the upsampler is this model plus its zero-initialised conditioning channels. As in the
demo, the network predicts the clean latent (flow.prediction="data"): an upsampler predicting data can start by
copying its conditioning, and one Euler step from noise is already its estimate of the clip (docs/upsample.md).

`python train.py --config configs/shapes_t2i_tiny.py --workdir runs/shapes_t2i_tiny`
"""

import dataclasses
import pathlib

from mgjax.config import CodecConfig, Config, MovingShapesConfig, load_config

HERE = pathlib.Path(__file__).resolve().parent
IMAGE_VAE = HERE.parent / "assets" / "image_vae_tiny"


def image_vae_codec() -> CodecConfig:
    """The committed image VAE as a codec (what `image_vae_tiny.py` trains)."""
    vae = load_config(HERE / "image_vae_tiny.py").model
    return CodecConfig(kind="image_vae", factors=(1, 4, 4), latent_channels=vae.latent_channels, tae=vae,
                       checkpoint=str(IMAGE_VAE))


def get_config() -> Config:
    base = load_config(HERE / "shapes_t2v_tiny.py")
    return dataclasses.replace(
        base,
        name="shapes_t2i_tiny",
        model=dataclasses.replace(base.model, in_channels=16, max_patches=(14, 8, 8)),
        codec=image_vae_codec(),
        data=dataclasses.replace(base.data, num_frames=1, height=64, width=64,
                                 shapes=MovingShapesConfig(textured_prob=0.8)),
        train=dataclasses.replace(base.train, steps=2000, checkpoint_every=1000),
    )
