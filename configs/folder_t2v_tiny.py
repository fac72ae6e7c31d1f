"""Your own videos, step 3 of 3: the tiny text-to-video model (`shapes_t2v_tae.py`) trained on latents of a folder of
captioned videos, encoded by a TAE trained on them (`folder_tae_tiny.py`, then `python -m mgjax precompute`).

`python -m mgjax train --config configs/folder_t2v_tiny.py --set codec.checkpoint=runs/my_tae
 --set data.latents_path=runs/my_latents --workdir runs/my_t2v` (the whole path: README.md, "Your own videos").
"""

import dataclasses

from configs.folder_tae_tiny import ASPECT_SIZES, folder_data
from configs.shapes_t2v_tae import get_config as shapes_t2v_tae
from mgjax.config import Config


def get_config() -> Config:
    base = shapes_t2v_tae()
    # the widest bucket, 48 px, is 12 latent pixels: 6 patches of 2
    patches = max(max(h, w) for h, w in ASPECT_SIZES) // (base.codec.factors[1] * base.model.patch_size[1])
    return dataclasses.replace(
        base,
        name="folder_t2v_tiny",
        model=dataclasses.replace(base.model, max_patches=(2, patches, patches)),
        codec=dataclasses.replace(base.codec, checkpoint="runs/my_tae"),  # the TAE run of step 1
        # precompute reads the folder (data.source=video_folder); training reads its latents (data.latents_path)
        data=dataclasses.replace(base.data, **dict(folder_data(), source="latents"), latents_path="runs/my_latents",
                                 fps_prefix=True, batch_size=8),
        train=dataclasses.replace(base.train, steps=2000, log_every=50, checkpoint_every=500),
    )
