"""Movie Gen Edit on Moving Shapes, stage I: single-frame editing (paper §5.2).

The tiny text-to-video model (`configs/shapes_t2v_tiny.py`; train it first, `make demo` does) with the input video on
48 extra zero-initialised input channels and a task embedding (4 tokens of width 64 beside the text, and a vector
added to the timestep embedding), fully fine-tuned on image edits (one-frame videos) of the six edit types, each at a
random temporal position, multitasked with text-to-video (black input video, task 0) one batch in six.

`python train.py --config configs/shapes_edit_stage1.py --workdir runs/edit_stage1` (reads runs/shapes_t2v_tiny)
"""

import dataclasses
import pathlib

from mgjax.config import load_config
from mgjax.config.data import EditDataConfig
from mgjax.config.edit import edit_model

HERE = pathlib.Path(__file__).resolve().parent
PARENT = "runs/shapes_t2v_tiny"  # the text-to-video run this stage starts from


def get_config():
    base = load_config(HERE / "shapes_t2v_tiny.py")
    return dataclasses.replace(
        base,
        name="shapes_edit_stage1",
        task="edit",
        model=edit_model(base.model, task_width=64),
        data=dataclasses.replace(base.data, edit=EditDataConfig(stage=1)),
        sample=dataclasses.replace(base.sample, cfg_scale=2.0, source_cfg_scale=1.5),
        optim=dataclasses.replace(base.optim, warmup_steps=100),
        train=dataclasses.replace(base.train, steps=12000, init_from=PARENT, checkpoint_every=1000),
        eval=dataclasses.replace(base.eval, num_samples=32),
    )
