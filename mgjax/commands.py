"""One command surface: `python -m mgjax <command> ...` (train.py and sample.py are the same `train` and `sample`).

Each command declares its arguments and calls into the library; a user's mistake (a `UserError`) prints one line and
exits with status 2. Imports of the library happen inside each command: process-wide flags (XLA_FLAGS, fake CPU
devices, JAX_PLATFORMS for the AOT planner) must be set before JAX starts its backend, and `--help` or a bad argument
should not wait seconds for the whole library to import.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
from typing import Callable

from mgjax.cli import prepare_tpu_compilation, run_main, set_global_flags


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int | None]
    arguments: tuple[tuple[tuple, dict], ...]
    config: bool = True  # takes --config and --set
    workdir: str = "required"  # "required", "optional" or "none"
    distributed: bool = False  # initialises jax.distributed from the environment (one process per host)


COMMANDS: dict[str, Command] = {}


def arg(*names, **kw) -> tuple[tuple, dict]:
    return names, kw


def command(name: str, help: str, *arguments, config: bool = True, workdir: str = "required",
            distributed: bool = False):
    def register(fn):
        COMMANDS[name] = Command(name, help, fn, arguments, config, workdir, distributed)
        return fn

    return register


def load(args):
    """The command's config (--config, or the config.json of the run --workdir names), checked section by section and
    by its task."""
    from mgjax.errors import UserError
    from mgjax.train.tasks import load_config

    path = args.config
    if path is None:
        saved = pathlib.Path(args.workdir or "") / "config.json"
        if not args.workdir or not saved.is_file():
            where = f" ({str(saved)!r} not found)" if args.workdir else ""
            raise UserError(f"give --config FILE, or the --workdir of a run, whose config.json is used{where}")
        path = saved
    return load_config(path, args.set)


@command("train", "train a model; running again in the same workdir resumes from its latest checkpoint",
         arg("--cpu-devices", type=int, default=None, help="fake CPU devices for mesh experiments"),
         workdir="optional", distributed=True)
def train(args):
    from mgjax.train.loop import train as train_run

    cfg = load(args)
    train_run(cfg, args.workdir or f"runs/{cfg.name}")


@command("sample", "sample videos from a run's EMA weights (FILE.mp4 and FILE.gif per prompt)",
         arg("--prompt", action="append", default=None, help="repeat for several prompts (an edit run: the clip to "
                                                                 "generate and then edit)"),
         arg("--input", default=None, help="an edit run: the video or image file to edit"),
         arg("--instruction", default=None, help="an edit run: what to change, e.g. 'make the red circle blue'"),
         arg("--task", default=None, help="an edit run: the edit task (default: read from the instruction)"),
         arg("--source-cfg", type=float, default=None, help="an edit run: guidance scale on the input video; a "
                                                                "personalized (pt2v) run: on the reference"),
         arg("--reference", default=None, help="a personalized (pt2v) run: the subject's image (any size or mode; "
                                               "transparency becomes the flat grey of training references)"),
         arg("--out", default=None, help="output file (FILE.mp4; FILE.gif is written beside it; numbered for several "
                                         "prompts) or a folder (ending in /); default WORKDIR/samples/ with a name "
                                         "per prompt and settings"),
         arg("--overwrite", action="store_true", help="replace existing output files"),
         arg("--seed", type=int, default=None), arg("--steps", type=int, default=None, help="Euler steps"),
         arg("--cfg", type=float, default=None, help="classifier-free guidance scale"),
         arg("--camera-motion", default=None, help="prepend the camera-motion prefix, e.g. 'pan left'"),
         arg("--upsample", nargs="?", const="", default=None, metavar="RUN",
             help="spatially upsample: a text-to-video run's clips with the upsampler run RUN, or, with an upsampler "
                  "run as --workdir, the --input video or image file"),
         distributed=True)
def sample(args):
    import jax

    from mgjax.errors import UserError
    from mgjax.models.text.prompts import with_camera_prefix
    from mgjax.pipelines.t2v import T2VSampler
    from mgjax.pipelines.video_io import check_free, sample_stems, write_video

    cfg = load(args)
    if args.steps is not None and args.steps < 2:
        raise UserError(f"--steps must be at least 2, got {args.steps}")
    if cfg.task == "edit":
        return _sample_edit(args, cfg)
    if cfg.task == "upsample":
        return _sample_upsample(args, cfg)
    if cfg.task == "pt2v":  # videos of --reference's subject, one per --prompt, each also beside its reference
        from mgjax.pipelines.pt2v import personalize_file

        for path, prompt in personalize_file(cfg, args.workdir, args.reference, args.prompt or [], seed=args.seed,
                                             num_steps=args.steps, cfg_scale=args.cfg, out=args.out,
                                             reference_cfg_scale=args.source_cfg, overwrite=args.overwrite):
            print(f"wrote {path}  ({prompt!r})", flush=True)
        return
    if args.reference:
        raise UserError(f"--reference needs a personalized-video run (task pt2v); --workdir {args.workdir} is a "
                        f"{cfg.task} run")
    if args.upsample == "":
        raise UserError(f"--upsample RUN: name the upsampler run (--workdir {args.workdir} is a {cfg.task} run)")
    if args.input or args.instruction:
        raise UserError(f"--input and --instruction edit videos; this run (task {cfg.task}) generates them: give "
                        f"--prompt")
    if not args.prompt:
        raise UserError("give at least one --prompt")
    texts = args.prompt
    if args.camera_motion:  # checked before the model loads
        texts = [with_camera_prefix(p, args.camera_motion) for p in args.prompt]
    seed = cfg.sample.seed if args.seed is None else args.seed
    steps = cfg.sample.num_steps if args.steps is None else args.steps
    scale = cfg.sample.cfg_scale if args.cfg is None else args.cfg
    identity = [json.dumps([t, seed, steps, scale, i]) for i, t in enumerate(texts)]  # what makes video i
    stems = sample_stems(args.prompt, args.out, pathlib.Path(args.workdir) / "samples", identity)
    if not args.overwrite:
        check_free(stems)  # before the model loads: never replace a file, never sample for nothing
    upsampler = _load_upsampler(args.upsample) if args.upsample else None  # its mistakes before sampling
    if upsampler is not None and not args.overwrite:
        check_free([s.with_name(s.name + "_upsampled") for s in stems])
    sampler = T2VSampler(cfg, args.workdir)
    videos = sampler.sample(texts, seed=seed, num_steps=steps, cfg_scale=scale)
    if jax.process_index() != 0:  # every process sampled its part; process 0 writes the files
        return
    for prompt, stem, video in zip(args.prompt, stems, videos):
        for path in write_video(stem, video, fps=cfg.data.fps):
            print(f"wrote {path}  ({prompt!r})", flush=True)
    if upsampler is not None:
        from mgjax.pipelines.upsample import fit_frames

        up_cfg, up = upsampler
        d, m = up_cfg.data, up_cfg.model
        low = fit_frames(videos.reshape(-1, *videos.shape[2:]), d.height // m.scale, d.width // m.scale)
        high = up.upsample(low.reshape(videos.shape[:2] + low.shape[1:]), texts, seed=seed)
        for prompt, stem, video in zip(args.prompt, stems, high):
            for path in write_video(stem.with_name(stem.name + "_upsampled"), video, fps=cfg.data.fps):
                print(f"wrote {path}  ({prompt!r}, upsampled {m.scale}x)", flush=True)


def _load_upsampler(workdir: str):
    """(config, UpsampleSampler) of the upsampler run `workdir` (its config.json)."""
    from mgjax.errors import UserError
    from mgjax.pipelines.upsample import UpsampleSampler
    from mgjax.train.tasks import load_config

    saved = pathlib.Path(workdir) / "config.json"
    if not saved.is_file():
        raise UserError(f"--upsample {workdir}: no config.json there (give an upsampler's training run)")
    cfg = load_config(saved)
    if cfg.task != "upsample":
        raise UserError(f"--upsample {workdir} is a {cfg.task} run, not an upsampler (task upsample)")
    return cfg, UpsampleSampler(cfg, workdir)


def _sample_upsample(args, cfg):
    """Upsample --input (a video or image file): writes the upsampled clip and an input (bilinear) | output strip."""
    from mgjax.errors import UserError
    from mgjax.pipelines.upsample import upsample_file

    if not args.input:
        raise UserError("an upsampler run upsamples a file: give --input VIDEO_OR_IMAGE (to upsample generated clips, "
                        "sample a text-to-video run with --upsample THIS_RUN)")
    if args.instruction:
        raise UserError("--instruction edits videos; this run (task upsample) upsamples them")
    paths, what = upsample_file(cfg, args.workdir, args.input, prompt=args.prompt[0] if args.prompt else None,
                                seed=args.seed, num_steps=args.steps, cfg_scale=args.cfg, out=args.out,
                                overwrite=args.overwrite)
    for path in paths:
        print(f"wrote {path}  ({what})", flush=True)


def _sample_edit(args, cfg):
    """Edit --input (or a clip the run generates from --prompt) by --instruction; writes the edit and an input |
    output strip."""
    from mgjax.errors import UserError
    from mgjax.pipelines.edit import edit_file

    if bool(args.input) == bool(args.prompt):
        raise UserError("give either --input FILE (a video or image to edit) or one --prompt (a clip to generate "
                        "and edit)")
    if args.prompt and len(args.prompt) > 1:
        raise UserError("an edit run edits one clip: give one --prompt")
    paths, what = edit_file(cfg, args.workdir, args.instruction or "", path=args.input,
                            prompt=args.prompt[0] if args.prompt else None, task=args.task, seed=args.seed,
                            num_steps=args.steps, cfg_scale=args.cfg, source_cfg_scale=args.source_cfg, out=args.out,
                            overwrite=args.overwrite)
    for path in paths:
        print(f"wrote {path}  ({what})", flush=True)


@command("edit-backtranslate", "Movie Gen Edit stage III data: a stage II run edits clips with forward instructions; "
         "writes (its edit, the backward instruction, the clip) records",
         arg("--out", required=True, help="the .npz to write (data.edit.backtranslated of the stage III config)"),
         arg("--num", type=int, default=2048, help="records to write"),
         arg("--seed", type=int, default=0), arg("--overwrite", action="store_true"))
def edit_backtranslate(args):
    from mgjax.errors import UserError
    from mgjax.pipelines.edit import backtranslate

    cfg = load(args)
    if cfg.task != "edit":
        raise UserError(f"edit-backtranslate needs an edit run (a stage II one); this config's task is {cfg.task}")
    out = pathlib.Path(args.out)
    if out.exists() and not args.overwrite:
        raise UserError(f"{out} exists; pass --overwrite to replace it")
    if args.num < 1:
        raise UserError(f"--num must be at least 1, got {args.num}")
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = backtranslate(cfg, args.workdir, out, args.num, args.seed)
    print(f"wrote {counts['records']} backtranslated edits to {out} ({counts['by_type']})", flush=True)


@command("eval", "evaluate a run with its task's evaluator (text-to-video: held-out Moving Shapes captions judged "
         "from the pixels; TAE, DAC-VAE: held-out reconstruction beside baselines)",
         arg("--num", type=int, default=None, help="held-out samples (default eval.num_samples)"))
def evaluate(args):
    import importlib

    from mgjax.errors import UserError
    from mgjax.train.tasks import get_task

    cfg = load(args)
    name = get_task(cfg.task).evaluator
    if name is None:
        raise UserError(f"task {cfg.task!r} has no evaluator")
    evaluator = importlib.import_module(name)  # named by the task: evaluation sits above training
    print(evaluator.summary(evaluator.evaluate(cfg, args.workdir, args.num)), flush=True)


@command("inspect", "parameters, tokens and FLOPs of a config, from abstract shapes (nothing is allocated)",
         arg("--json", action="store_true", help="print JSON instead of a table"), workdir="none")
def inspect(args):
    from mgjax.tools.inspect import format_report, report

    cfg = load(args)
    r = report(cfg)
    print(json.dumps(r, indent=2) if args.json else format_report(cfg, r))


@command("aot", "compile a config's training step for a TPU topology on this machine; per-chip memory and FLOPs",
         arg("--topology", required=True, help="e.g. v5p-512 (TensorCores) or v5p:8x8x8 (chip grid)"),
         arg("--batch", type=int, default=None, help="global batch (default: one clip per data x fsdp)"),
         arg("--json", action="store_true"), workdir="none")
def aot(args):
    from mgjax.tools.aot import format_plan, plan

    r = plan(load(args), args.topology, args.batch)
    print(json.dumps(r, indent=2) if args.json else format_plan(r))


@command("average", "average the weights of several runs (paper §3.3)",
         arg("--run", action="append", required=True, metavar="DIR[:STEP]"), arg("--out", required=True),
         arg("--weights", type=float, nargs="+", default=None), workdir="none")
def average(args):
    from mgjax.tools.average import average_runs

    step = average_runs(load(args), args.run, args.out, args.weights)
    print(f"averaged {len(args.run)} runs into {args.out} (step {step})", flush=True)


def _audio_codec(args):
    """The DAC-VAE of --workdir (a run or an export), checked to be one."""
    from mgjax.config.audio import DACVAEConfig
    from mgjax.config.geometry import audio_hop
    from mgjax.errors import UserError
    from mgjax.pipelines.audio_io import AudioCodec

    cfg = load(args)
    if not isinstance(cfg.model, DACVAEConfig):
        raise UserError(f"--workdir {args.workdir!r} holds a {cfg.task} model; the audio commands need a DAC-VAE "
                        f"(task=dac_vae), e.g. assets/dac_vae_tiny")
    if not args.chunk_seconds > 0:
        raise UserError(f"--chunk-seconds must be positive, got {args.chunk_seconds}")
    frames = max(1, round(args.chunk_seconds * cfg.model.sample_rate / audio_hop(cfg.model.strides)))
    return AudioCodec(cfg.model, args.workdir, chunk_frames=frames)


AUDIO_INPUT = (arg("--input", required=True, help="an audio file (wav, flac, ogg, aiff) or a video / compressed "
                                                  "audio file's first audio track"),
               arg("--downmix", action="store_true", help="average a multi-channel file to mono"),
               arg("--resample", action="store_true", help="accept a sample rate under half or over twice the "
                                                           "model's (it is resampled either way)"))
AUDIO_COMMON = (arg("--out", required=True), arg("--overwrite", action="store_true", help="replace an existing --out"),
                arg("--chunk-seconds", type=float, default=10.0, help="audio per chunk: memory stays flat with "
                                                                       "length, output is the same for any value"))


@command("audio-encode", "encode an audio file to DAC-VAE latents (.npz: posterior means, 25 frames/s)",
         *AUDIO_INPUT, *AUDIO_COMMON)
def audio_encode(args):
    from mgjax.pipelines.audio_io import check_free

    out = check_free(args.out, args.overwrite)  # before anything loads
    codec = _audio_codec(args)
    audio = codec.load_input(args.input, args.downmix, args.resample)
    latents = codec.encode(audio)
    codec.save_latents(out, latents, len(audio))
    print(f"wrote {out}: {latents.shape[0]} frames x {latents.shape[1]} channels for {len(audio)} samples "
          f"({len(audio) / codec.cfg.sample_rate:.2f} s)", flush=True)


@command("audio-decode", "decode DAC-VAE latents (.npz from audio-encode) to a 16-bit wav",
         arg("--input", required=True, help="latents written by audio-encode"), *AUDIO_COMMON)
def audio_decode(args):
    from mgjax.pipelines.audio_io import check_free, write_wav

    check_free(args.out, args.overwrite)
    codec = _audio_codec(args)
    latents, num_samples = codec.read_latents(args.input)
    path = write_wav(args.out, codec.decode(latents, num_samples), codec.cfg.sample_rate, args.overwrite)
    print(f"wrote {path}: {num_samples / codec.cfg.sample_rate:.2f} s at {codec.cfg.sample_rate} Hz", flush=True)


@command("audio-reconstruct", "encode and decode an audio file (a 16-bit wav at the model's rate)",
         *AUDIO_INPUT, *AUDIO_COMMON)
def audio_reconstruct(args):
    from mgjax.pipelines.audio_io import check_free, write_wav

    check_free(args.out, args.overwrite)
    codec = _audio_codec(args)
    audio = codec.load_input(args.input, args.downmix, args.resample)
    path = write_wav(args.out, codec.decode(codec.encode(audio), len(audio)), codec.cfg.sample_rate, args.overwrite)
    print(f"wrote {path}: {len(audio) / codec.cfg.sample_rate:.2f} s at {codec.cfg.sample_rate} Hz", flush=True)


@command("export", "export a run's inference weights (no optimizer state) with its config: OUT/model.safetensors, or "
         "a small Orbax run directory; OUT loads like the run (sample --workdir OUT, codec.checkpoint=OUT)",
         arg("--out", required=True, help="the export's directory"),
         arg("--format", default="safetensors", choices=("safetensors", "orbax")),
         arg("--overwrite", action="store_true", help="replace an existing OUT"))
def export(args):
    from mgjax.tools.export import export_run

    step = export_run(load(args), args.workdir, args.out, args.format, args.overwrite)
    print(f"exported the weights of step {step} to {args.out} ({args.format})", flush=True)


@command("precompute", "encode the config's data into latent records (and, with --text, the text encoders' outputs)",
         arg("--out", required=True),
         arg("--num", type=int, default=None, help="clips to encode (default: a video folder's every file; 4096 "
                                                   "Moving Shapes clips)"),
         arg("--shard-size", type=int, default=1024, help="records per array_record shard"),
         arg("--split", default="train", choices=("train", "heldout")),
         arg("--text", action="store_true", help="also store every text encoder's caption outputs"),
         workdir="optional")
def precompute(args):
    from mgjax.pipelines.precompute_latents import write_latent_records

    meta = write_latent_records(load(args), args.out, args.num, args.split, text=args.text, workdir=args.workdir,
                                shard_size=args.shard_size)
    print(f"wrote {meta['records']} latents of shapes {meta['latent_shapes']} in {meta['shards']} shards to "
          f"{args.out} ({meta['resumed_shards']} shards kept from an interrupted run, {len(meta['bad_samples'])} bad "
          f"samples skipped)", flush=True)


@command("tfds", "pack a folder of videos and captions into a TFDS array_record dataset (data.source=tfds)",
         arg("--root", required=True), arg("--manifest", default=None), arg("--out", required=True, help="data_dir"),
         arg("--name", default="mgjax_videos"), config=False, workdir="none")
def tfds(args):
    from mgjax.data.tfds_videos import TFDSRecords, build

    directory, skipped = build(args.root, args.out, args.manifest, args.name)
    print(f"built {directory} ({len(TFDSRecords(directory))} examples; {len(skipped)} files left out)", flush=True)
    for path, reason in skipped:
        print(f"  left out {path}: {reason}", flush=True)


@command("motion-probe", "Moving Shapes diagnostic: where the near-noise prediction puts a caption's object, frame by "
         "frame, against the training clips",
         arg("--caption", action="append", default=None, help="a one-object moving caption (repeatable)"),
         arg("--t", type=float, default=0.02, help="flow time of the probe (0 is noise)"))
def motion_probe(args):
    from mgjax.eval.motion_probe import DEFAULT_CAPTIONS, run

    print(run(load(args), args.workdir, tuple(args.caption or DEFAULT_CAPTIONS), args.t))


@command("binding-probe", "Moving Shapes diagnostic: does the text encoder know whose word is whose (linear probe)",
         arg("--num", type=int, default=3000, help="two-object training captions to probe"),
         arg("--encoder", type=int, default=0, help="which text encoder (index into text.encoders)"))
def binding_probe(args):
    from mgjax.eval.binding_probe import run

    print(run(load(args), args.workdir, args.num, args.encoder))


@command("diagnose", "per-layer attention entropy, residual-stream balance and word sensitivity of a run",
         arg("--times", type=float, nargs="+", default=None), arg("--json", action="store_true"))
def diagnose(args):
    from mgjax.eval.diagnose_t2v import DEFAULT_TIMES, run

    print(run(load(args), args.workdir, tuple(args.times or DEFAULT_TIMES), args.json))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m mgjax", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.help, description=c.help)
        if c.config:
            p.add_argument("--config", required=c.workdir == "none", default=None,
                           help="experiment file in configs/, or a run's config.json" +
                                ("" if c.workdir == "none" else " (default: WORKDIR/config.json)"))
            p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
        if c.workdir != "none":
            p.add_argument("--workdir", required=c.workdir == "required", default=None, help="the run's directory")
        for names, kw in c.arguments:
            p.add_argument(*names, **kw)
    return top


def dispatch(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    c = COMMANDS[args.command]
    if c.name == "aot":
        prepare_tpu_compilation()
    set_global_flags(getattr(args, "cpu_devices", None))
    if c.distributed:
        from mgjax.parallel.distributed import initialize_from_env

        initialize_from_env()  # multi-host: one process per host, before JAX's backend starts
    return c.run(args) or 0


def main(argv: list[str] | None = None) -> None:
    run_main(dispatch, sys.argv[1:] if argv is None else argv)
