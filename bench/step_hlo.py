"""Does a change alter the compiled training step? A digest of each config's optimised step program.

`python bench/step_hlo.py [--configs configs/tae_shapes.py configs/shapes_t2v_tiny.py] [--dump DIR]`

Builds each config's task as training does (fresh state, the first batch, the step of the run's last phase), compiles
it for this machine's first device and prints a SHA-256 of XLA's optimised HLO with the debug information removed
(op metadata, source file and stack-frame tables: they name Python files and lines, which a refactor moves). Each
config compiles in its own process (instruction names of a shared inner computation follow whichever step traced it
first). Run it in two checkouts on the same machine: equal digests mean the same program, so any step-time difference
between them is noise. `--dump` writes the stripped texts for a diff.
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib
import re
import subprocess
import sys
import tempfile

DEBUG_LINES = re.compile(r'^(\d+ ".*"|\d+ \{.*\}|FileNames|FunctionNames|FileLocations|StackFrames)$')


def stripped_hlo(text: str) -> str:
    text = re.sub(r", metadata=\{[^}]*\}", "", text)
    text = re.sub(r"^HloModule [^\n]*", "", text)
    return "\n".join(line for line in text.splitlines() if not DEBUG_LINES.match(line))


def step_program(config: str) -> str:
    import jax

    from mgjax.parallel.mesh import make_mesh
    from mgjax.parallel.sharding import put_batch
    from mgjax.train.tasks import load_config, task_for

    cfg = load_config(config)
    mesh = make_mesh(cfg.mesh, jax.devices()[:1])
    with jax.set_mesh(mesh):
        task = task_for(cfg, pathlib.Path(tempfile.mkdtemp()))
        state = task.init_state(fresh=True)
        batch = put_batch(next(iter(task.batches(0))), mesh, task.rules)
        step = jax.jit(task.make_step(task.phase(cfg.train.steps - 1)))
        return stripped_hlo(step.lower(state, batch).compile().as_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["configs/tae_shapes.py", "configs/shapes_t2v_tiny.py"])
    parser.add_argument("--dump", default="", metavar="DIR", help="write each stripped program here")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child process: one config
    args = parser.parse_args()
    if not args.one:
        for config in args.configs:
            cmd = [sys.executable, __file__, "--one", "--configs", config] + (["--dump", args.dump] if args.dump else [])
            subprocess.run(cmd, check=True)
        return
    from mgjax.cli import set_global_flags

    set_global_flags()
    for config in args.configs:
        text = step_program(config)
        if args.dump:
            out = pathlib.Path(args.dump) / (pathlib.Path(config).stem + ".hlo.txt")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
        print(f"{config}: {hashlib.sha256(text.encode()).hexdigest()[:16]} ({len(text):,d} characters)", flush=True)


if __name__ == "__main__":
    main()
