"""The tiny text-to-video model at a token per 4x4 pixels: the finer parent Movie Gen Edit was tried from.

`configs/shapes_t2v_tiny.py` (the demo) with patchify (1, 1, 1) on the space-to-depth codec instead of (1, 2, 2):
64 tokens per 32x32 frame instead of 16, and each token's output is 48 pixel values instead of 192 (both from a
width of 128). A step costs 4.2x the demo's (1.75 against 7.4 steps/s), so the budget is 2,000 steps (19 minutes
on 2 cores) instead of 3,600. Edit's stage I from it, at the same wall time as from the demo, scored lower
(docs/edit.md, "A token per 4x4 pixels"), so the Edit configs still start from the demo.

`python train.py --config configs/shapes_t2v_fine.py --workdir runs/shapes_t2v_fine`
"""

import dataclasses
import pathlib

from mgjax.config import load_config

HERE = pathlib.Path(__file__).resolve().parent


def get_config():
    base = load_config(HERE / "shapes_t2v_tiny.py")
    return dataclasses.replace(
        base,
        name="shapes_t2v_fine",
        model=dataclasses.replace(base.model, patch_size=(1, 1, 1), max_patches=(8, 8, 8)),
        train=dataclasses.replace(base.train, steps=2000, checkpoint_every=500),
    )
