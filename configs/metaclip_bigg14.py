"""MetaCLIP 2.5B at its published size (ViT-bigG/14 at 224 px and its text tower, the paper's long-prompt variant with
256 text positions, paper §3.1.4 and §4), as a `clip` task: for `inspect` and the AOT planner (PT2V's vision encoder
starts from it); the paper gives no CLIP training recipe, so data and optimizer are the tiny config's.

`python -m mgjax inspect --config configs/metaclip_bigg14.py`
"""

import dataclasses
import pathlib

from mgjax.config import Config, load_config
from mgjax.config.clip import clip_model

HERE = pathlib.Path(__file__).resolve().parent


def get_config() -> Config:
    tiny = load_config(HERE / "shapes_clip_tiny.py")
    return dataclasses.replace(tiny, name="metaclip_bigg14", model=clip_model("metaclip_bigg14"),
                               data=dataclasses.replace(tiny.data, height=224, width=224))
