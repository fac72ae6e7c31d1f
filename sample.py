"""Sample videos from a trained run's EMA weights.

python sample.py --config configs/NAME.py --workdir DIR --prompt "a red circle moving left" [--prompt ...]
                 [--out FILE] [--seed N] [--steps N] [--cfg X]
Writes FILE.mp4 and FILE.gif per prompt (default: DIR/samples/<prompt>.mp4).
"""

import argparse
import pathlib
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--workdir", required=True, help="the training run's directory")
    parser.add_argument("--prompt", action="append", required=True, help="repeat for several prompts")
    parser.add_argument("--out", default=None, help="output file (.mp4; a .gif is written beside it)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="Euler steps (default sample.num_steps)")
    parser.add_argument("--cfg", type=float, default=None, help="classifier-free guidance scale")
    parser.add_argument("--camera-motion", default=None,
                        help="prepend the camera-motion prefix, e.g. 'pan left' (mgjax.models.text.prompts)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from mgjax.cli import set_global_flags

    set_global_flags()
    from mgjax.parallel.distributed import initialize_from_env

    initialize_from_env()  # multi-host: one process per host, before JAX's backend starts
    import jax

    from mgjax.config import load_config
    from mgjax.errors import UserError
    from mgjax.eval.shapes_t2v import slug
    from mgjax.pipelines.t2v import T2VSampler
    from mgjax.pipelines.video_io import write_video

    cfg = load_config(args.config, args.set)
    if args.steps is not None and args.steps < 2:
        raise UserError(f"--steps must be at least 2, got {args.steps}")
    texts = args.prompt
    if args.camera_motion:
        from mgjax.models.text.prompts import with_camera_prefix

        texts = [with_camera_prefix(p, args.camera_motion) for p in args.prompt]  # checked before loading the model
    sampler = T2VSampler(cfg, args.workdir)
    videos = sampler.sample(texts, seed=args.seed, num_steps=args.steps, cfg_scale=args.cfg)
    if jax.process_index() != 0:  # every process sampled its part; process 0 writes the files
        return 0
    for i, (prompt, video) in enumerate(zip(args.prompt, videos)):
        if args.out:
            out = pathlib.Path(args.out)
            stem = out.with_suffix("") if len(args.prompt) == 1 else out.with_name(f"{out.stem}_{i}")
        else:
            stem = pathlib.Path(args.workdir) / "samples" / slug(prompt)
        for path in write_video(stem, video, fps=cfg.data.fps):
            print(f"wrote {path}  ({prompt!r})", flush=True)
    return 0


if __name__ == "__main__":
    from mgjax.cli import run_main

    run_main(main, sys.argv[1:])
