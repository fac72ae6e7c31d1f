"""Personalized video on Characters, stage I: identity injection (paper §4.2).

The tiny text-to-video model (`configs/shapes_t2v_tiny.py`; train it first, `make demo` does) with the committed tiny
CLIP's vision tower (`assets/clip_shapes_tiny`, frozen): a reference image's 17 tokens (class token and 16 patches) go
through the backbone's zero-initialised context projection beside the text. Trained on 4-frame Characters clips with
paired references (a masked frame of the clip itself); 10% of references are dropped, so sampling can guide on them.

`python train.py --config configs/shapes_pt2v_stage1.py --workdir runs/pt2v_stage1` (reads runs/shapes_t2v_tiny)
"""

import dataclasses
import pathlib

from mgjax.config import load_config
from mgjax.config.data import PT2VDataConfig
from mgjax.config.pt2v import pt2v_model

HERE = pathlib.Path(__file__).resolve().parent
PARENT = "runs/shapes_t2v_tiny"  # the text-to-video run this stage starts from
CLIP = HERE.parent / "assets" / "clip_shapes_tiny"  # `configs/shapes_clip_tiny.py`, exported


def get_config():
    base = load_config(HERE / "shapes_t2v_tiny.py")
    vision = load_config(HERE / "shapes_clip_tiny.py").model.vision
    return dataclasses.replace(
        base,
        name="shapes_pt2v_stage1",
        task="pt2v",
        model=pt2v_model(base.model, vision, vision_from=str(CLIP)),
        data=dataclasses.replace(base.data, pt2v=PT2VDataConfig(cross_pair_prob=0.0)),
        # the parent already lays out motion (the near-noise end); an identity is detail, learned at later times
        flow=dataclasses.replace(base.flow, near_noise_prob=0.2),
        # reference guidance 4: +5 to +7 points of identity over 2 at every stage (docs/pt2v.md)
        sample=dataclasses.replace(base.sample, cfg_scale=2.0, source_cfg_scale=4.0),
        optim=dataclasses.replace(base.optim, warmup_steps=100),
        train=dataclasses.replace(base.train, steps=6000, init_from=PARENT, checkpoint_every=1000),
        eval=dataclasses.replace(base.eval, num_samples=64),
    )
