"""Personalized video on Characters, stage III: naturalness (paper §4.2): cross-paired references (the identity still,
centred, in another tilt, size or lighting than the clip's) and the vision encoder trained with the backbone.

Paired-only training lets a model copy its reference's pose (the paper's copy-paste failure); a cross-paired
reference never shows the clip's pose, so the pose can only come from the prompt.

`python train.py --config configs/shapes_pt2v_stage3.py --workdir runs/pt2v_stage3` (reads runs/pt2v_stage2)
"""

import dataclasses
import pathlib

from mgjax.config import load_config
from mgjax.config.data import PT2VDataConfig

HERE = pathlib.Path(__file__).resolve().parent
PARENT = "runs/pt2v_stage2"


def get_config():
    base = load_config(HERE / "shapes_pt2v_stage2.py")
    return dataclasses.replace(
        base,
        name="shapes_pt2v_stage3",
        model=dataclasses.replace(base.model, vision_trainable=True),
        data=dataclasses.replace(base.data, pt2v=PT2VDataConfig(cross_pair_prob=1.0)),
        train=dataclasses.replace(base.train, steps=6000, init_from=PARENT),  # its length is the lever: docs/pt2v.md
    )
