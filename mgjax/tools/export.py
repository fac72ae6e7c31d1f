"""Export a training run's weights alone (no optimizer or discriminator state) as a small, loadable run directory.

python -m mgjax.tools.export --config configs/tae_shapes.py --workdir runs/tae_shapes --out assets/tae_shapes

The result has `checkpoints/STEP` with the `params` item only, plus the run's config.json and latent_stats.json, so
`codec.checkpoint=OUT` loads it like the original run. This is how assets/tae_shapes (the demo's TAE) was made.
"""

from __future__ import annotations

import pathlib
import shutil
import sys

import jax
from flax import nnx

from mgjax.cli import run_main, run_parser, set_global_flags
from mgjax.config import Config
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.train.checkpoint import Checkpointer, checkpoint_dir, open_existing

CARRIED_FILES = ("config.json", "latent_stats.json")


def export_params(cfg: Config, workdir: str | pathlib.Path, out: str | pathlib.Path) -> int:
    """-> the exported step."""
    if cfg.task != "tae":
        raise UserError("export handles TAE runs (task=tae); video-model runs sample from their own workdir")
    from mgjax.pipelines.codec import restore_tae

    workdir, out = pathlib.Path(workdir), pathlib.Path(out)
    step = open_existing(workdir).latest_step()
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        params = nnx.to_pure_dict(nnx.state(restore_tae(cfg.codec, workdir), nnx.Param))
        if out.exists():
            shutil.rmtree(out)
        ckpt = Checkpointer(checkpoint_dir(out), keep=1, async_save=False)
        ckpt.save(step, {"params": params}, meta={"config": cfg.name, "task": cfg.task, "step": step,
                                                   "exported_from": str(workdir)})
        ckpt.close()
    for name in CARRIED_FILES:
        if (workdir / name).is_file():
            shutil.copy(workdir / name, out / name)
    return step


def main(argv=None) -> int:
    parser = run_parser(__doc__)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    from mgjax.config import load_config

    step = export_params(load_config(args.config, args.set), args.workdir, args.out)
    print(f"exported the weights of step {step} to {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    set_global_flags()
    run_main(main, sys.argv[1:])
