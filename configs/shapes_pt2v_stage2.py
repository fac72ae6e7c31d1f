"""Personalized video on Characters, stage II: longer clips (paper §4.2: after identity injection on short clips,
training continues on longer videos to recover long-video generation).

Stage I's model (`configs/shapes_pt2v_stage1.py`), still with paired references and the vision encoder frozen, on
8-frame clips (stage I: 4), the most the parent's temporal position table holds.

`python train.py --config configs/shapes_pt2v_stage2.py --workdir runs/pt2v_stage2` (reads runs/pt2v_stage1)
"""

import dataclasses
import pathlib

from mgjax.config import load_config

HERE = pathlib.Path(__file__).resolve().parent
PARENT = "runs/pt2v_stage1"


def get_config():
    base = load_config(HERE / "shapes_pt2v_stage1.py")
    return dataclasses.replace(
        base,
        name="shapes_pt2v_stage2",
        data=dataclasses.replace(base.data, num_frames=8, batch_size=8),
        train=dataclasses.replace(base.train, steps=3000, init_from=PARENT),
    )
