"""Evaluate a trained TAE: held-out reconstruction (PSNR, SSIM) of clips and images, and its latent statistics.

`python -m mgjax eval --config configs/tae_shapes.py --workdir runs/tae_shapes [--num 64]`

A TAE trained on procedural data (moving_shapes or natural_clips) is measured on held-out Moving Shapes and on clips
of the held-out real photos (mgjax/data/natural_clips.py), videos and images, each beside the bicubic baseline on the
same frames (eval/recon_baseline.py: down by the TAE's spatial factor and back up), in one table.

A TAE trained on a video folder (data.source video_folder or tfds) is measured on clips of that folder instead (it
has no held-out split of its own: hold files out of data.root to get one), and its latent statistics come from them.

Writes `eval/tae_recon.json` and `latent_stats.json` (per-channel shift and scale of the posterior mean over training
clips, which the text-to-video codec normalises latents with) into the workdir. The latent report gives each channel's
mean and std and the largest latent norm over the mean norm, where the outlier penalty's effect shows.
"""

from __future__ import annotations

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.checkpoint.orbax import open_existing
from mgjax.checkpoint.restore import LATENT_STATS, restore_params
from mgjax.config.geometry import tae_compression
from mgjax.config.schema import Config
from mgjax.data.moving_shapes import BACKGROUNDS
from mgjax.data.natural_clips import HELDOUT_PHOTOS
from mgjax.data.t2v_loader import natural_source, pixel_source, shapes_source
from mgjax.data.video_files import BadSample
from mgjax.data.video_pipeline import DecodeStep, build_index, records_for
from mgjax.eval.recon_baseline import bicubic_roundtrip, clip_scores, list_scores, scores, table
from mgjax.models.codec import pixels_to_unit, unit_to_pixels
from mgjax.models.tae.losses import outlier_ratio
from mgjax.models.tae.model import TemporalAutoencoder
from mgjax.models.tae.tiling import tiled_decode, tiled_encode
from mgjax.parallel.mesh import make_mesh
from mgjax.pipelines.video_io import write_video

BATCH = 8


def _clips(cfg: Config, split: str, images: bool, num: int, real: bool = False) -> np.ndarray:
    """Moving Shapes clips of a split, or (`real`) clips of the held-out photos."""
    source = natural_source(cfg.data, "heldout", images) if real else shapes_source(cfg.data, split, images)
    return np.stack([source[i]["video"] for i in range(num)])


def _backgrounds(cfg: Config, split: str, images: bool, num: int) -> list[str]:
    source = shapes_source(cfg.data, split, images=images)
    return [source.spec(i).background for i in range(num)]


def psnr_by_background(clip_psnr: np.ndarray, backgrounds: list[str]) -> dict:
    """Mean PSNR per background kind: {kind: {"psnr", "num"}}. Backgrounds differ in how compressible they are
    (i.i.d. grain barely compresses at all), so the overall mean hides where the error is."""
    kinds = np.asarray(backgrounds)
    return {kind: {"psnr": float(clip_psnr[kinds == kind].mean()), "num": int((kinds == kind).sum())}
            for kind in BACKGROUNDS if (kinds == kind).any()}


def reconstruct(model, videos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (uint8 reconstructions, posterior means), tiled as at inference, BATCH clips at a time."""
    encode = jax.jit(lambda v: tiled_encode(model, v)[0])
    decode = jax.jit(lambda z: tiled_decode(model, z, videos.shape[1]))
    recons, means = [], []
    for i in range(0, len(videos), BATCH):
        mean = encode(pixels_to_unit(jnp.asarray(videos[i:i + BATCH])))
        recons.append(np.asarray(unit_to_pixels(decode(mean))))
        means.append(np.asarray(mean))
    return np.concatenate(recons), np.concatenate(means)


def latent_report(means: np.ndarray) -> dict:
    flat = means.reshape(-1, means.shape[-1])
    return {"channel_mean": flat.mean(0).tolist(), "channel_std": flat.std(0).tolist(),
            "outlier_ratio": float(outlier_ratio(jnp.asarray(means))),
            "mean_norm": float(np.linalg.norm(flat, axis=-1).mean())}


def folder_clips(cfg: Config, num: int) -> list[np.ndarray]:
    """Up to `num` clips of a video folder, cut and sized as training cuts them (each at its bucket's shape)."""
    d = cfg.data
    entries, _ = build_index(d)
    step = DecodeStep(d.root, tuple(entries), None, None, 0, d.fps_prefix, d.seed, 0, 1, records_for(d))
    clips = []
    for i in range(len(entries)):
        if len(clips) == num:
            break
        try:
            clips.append(step.load(i, 0)[0])
        except BadSample:
            continue
    return clips


def evaluate_folder(cfg: Config, workdir: pathlib.Path, num: int, write: int, step: int) -> dict:
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        model = restore_params(TemporalAutoencoder(cfg.model, rngs=nnx.Rngs(0)), workdir)
        clips = folder_clips(cfg, num)
        recon, means = [None] * len(clips), []
        for shape in dict.fromkeys(c.shape for c in clips):  # buckets differ in shape: one batch (and compile) each
            ids = [i for i, c in enumerate(clips) if c.shape == shape]
            out, mean = reconstruct(model, np.stack([clips[i] for i in ids]))
            for i, r in zip(ids, out):
                recon[i] = r
            means.append(mean.reshape(-1, mean.shape[-1]))
    flat_means = np.concatenate(means)
    factor = tae_compression(cfg.model)[1]
    bicubic = list_scores(clips, [bicubic_roundtrip(c, factor) for c in clips])
    result = {"step": step, "num": len(clips), "source": cfg.data.root, "factor": factor,
              "video": dict(list_scores(clips, recon), bicubic=bicubic),
              "latents": latent_report(flat_means[None, :, None, None, :])}
    for i in range(min(write, len(clips))):
        write_video(workdir / "eval" / f"tae_{i:02d}", np.concatenate([clips[i], recon[i]], axis=2), fps=cfg.data.fps)
    return result


def evaluate(cfg: Config, workdir: str | pathlib.Path, num: int | None = None, write: int | None = None) -> dict:
    workdir = pathlib.Path(workdir)
    num = cfg.eval.num_samples if num is None else num
    write = cfg.eval.num_videos_to_write if write is None else write
    step = open_existing(workdir).latest_step()
    if cfg.data.source in ("video_folder", "tfds"):
        result = evaluate_folder(cfg, workdir, num, write, step)
        report = result["latents"]
        _write(workdir, result, {"shift": report["channel_mean"], "step": step, "clips": result["num"],
                                 "scale": [max(s, 1e-6) for s in report["channel_std"]]})
        return result
    factor = tae_compression(cfg.model)[1]
    with jax.set_mesh(make_mesh(cfg.mesh, jax.devices()[:1])):
        model = restore_params(TemporalAutoencoder(cfg.model, rngs=nnx.Rngs(0)), workdir)
        result: dict = {"step": step, "num": num, "factor": factor, "photos": list(HELDOUT_PHOTOS)}
        for kind, images, real in (("video", False, False), ("image", True, False), ("real_video", False, True),
                                   ("real_image", True, True)):
            clips = _clips(cfg, "heldout", images, num, real)
            recon, means = reconstruct(model, clips)
            clip_psnr, mean_ssim = clip_scores(clips, recon)
            result[kind] = {"psnr": float(clip_psnr.mean()), "ssim": mean_ssim,
                            "bicubic": scores(clips, bicubic_roundtrip(clips, factor))}
            if not real:
                result[kind]["by_background"] = psnr_by_background(clip_psnr, _backgrounds(cfg, "heldout", images, num))
            if not images:
                if not real:
                    result["latents_heldout"] = latent_report(means)
                for i in range(min(write, num)):
                    pair = np.concatenate([clips[i], recon[i]], axis=2)  # original | reconstruction
                    write_video(workdir / "eval" / f"tae_{'real_' if real else ''}{i:02d}", pair, fps=cfg.data.fps)
        train = pixel_source(cfg.data, "train")
        _, train_means = reconstruct(model, np.stack([train[i]["video"] for i in range(num)]))
    report = latent_report(train_means)
    _write(workdir, result, {"shift": report["channel_mean"], "scale": [max(s, 1e-6) for s in report["channel_std"]],
                             "step": step, "clips": num})
    return result


def _write(workdir: pathlib.Path, result: dict, stats: dict) -> None:
    (workdir / LATENT_STATS).write_text(json.dumps(stats, indent=2))
    (workdir / "eval").mkdir(parents=True, exist_ok=True)
    (workdir / "eval" / "tae_recon.json").write_text(json.dumps(result, indent=2))


def summary(r: dict) -> str:
    if "source" in r:
        v, b = r["video"], r["video"]["bicubic"]
        return (f"reconstruction of {r['num']} clips of {r['source']} (checkpoint step {r['step']}): video PSNR "
                f"{v['psnr']:.2f} dB SSIM {v['ssim']:.4f} (bicubic-{r['factor']}x: {b['psnr']:.2f} dB, SSIM "
                f"{b['ssim']:.4f}); latent max/mean norm "
                f"{r['latents']['outlier_ratio']:.2f}; latent statistics written for the text-to-video codec")
    rows = [(f"{name}, {kind}", r[key], r[key]["bicubic"])
            for name, prefix in (("Moving Shapes", ""), ("real photos", "real_"))
            for kind, key in (("video", prefix + "video"), ("images", prefix + "image"))]
    lines = [f"held-out reconstruction, {r['num']} clips / images each (checkpoint step {r['step']}; real photos: "
             f"{', '.join(r['photos'])}); latent max/mean norm {r['latents_heldout']['outlier_ratio']:.2f}",
             table(rows, r["factor"])]
    for kind in ("video", "image"):
        parts = ", ".join(f"{bg} {v['psnr']:.2f} ({v['num']})" for bg, v in r[kind]["by_background"].items())
        lines.append(f"Moving Shapes {kind} PSNR by background (clips): {parts}")
    return "\n".join(lines)
