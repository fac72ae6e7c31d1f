"""Movie Gen Edit at paper size (paper §5.1; spec §6): the 30B text-to-video model with the input video's TAE latent
on 16 more patchify input channels (16 -> 32) and an Emu-Edit task embedding (4 tokens beside the text, a vector added
to the timestep embedding), all new weights zero-initialised, fully fine-tuned from a text-to-video run
(`train.init_from`). The task vector's width (1024) is our choice: the paper does not give it.

Checked abstractly, never allocated on CPU: `python -m mgjax inspect --config configs/moviegen_edit_30b.py`.
"""

import dataclasses
import pathlib

from mgjax.config import load_config
from mgjax.config.data import EditDataConfig
from mgjax.config.edit import edit_model

HERE = pathlib.Path(__file__).resolve().parent


def get_config():
    base = load_config(HERE / "moviegen_video_30b.py")
    return dataclasses.replace(base, name="moviegen_edit_30b", task="edit", model=edit_model(base.model),
                               data=dataclasses.replace(base.data, edit=EditDataConfig(stage=1)))
