"""Movie Gen Edit on Moving Shapes, stage III: backtranslation (paper §5.2).

The stage II model edits real clips with forward instructions; training then takes its edit as the input, the
backward instruction ("make the blue square red" for "make the red square blue") and the real clip as the target, so
every target is a clean multi-frame clip. Write the records first:

`python -m mgjax edit-backtranslate --config configs/shapes_edit_stage2.py --workdir runs/edit_stage2 \
     --out runs/edit_stage2/backtranslated.npz --num 2048 --set sample.num_steps=25 --set sample.linear_steps=12 \
     --set sample.linear_reference_steps=125` (25 steps, the 50-step schedule's shape: twice the records in the same
     4.5 minutes; the inputs are the model's edits either way)
`python train.py --config configs/shapes_edit_stage3.py --workdir runs/edit_stage3` (reads runs/edit_stage2)
"""

import dataclasses
import pathlib

from mgjax.config import load_config

HERE = pathlib.Path(__file__).resolve().parent


def get_config():
    base = load_config(HERE / "shapes_edit_stage2.py")
    edit = dataclasses.replace(base.data.edit, stage=3, backtranslated="runs/edit_stage2/backtranslated.npz")
    return dataclasses.replace(
        base,
        name="shapes_edit_stage3",
        data=dataclasses.replace(base.data, edit=edit),
        train=dataclasses.replace(base.train, steps=5000, init_from="runs/edit_stage2", checkpoint_every=1250),
    )
