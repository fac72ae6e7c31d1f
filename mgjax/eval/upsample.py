"""Evaluate a spatial upsampler run: held-out PSNR / SSIM against the ground-truth high-resolution clips beside bicubic
and bilinear upsampling of the same degraded inputs, and the seams MultiDiffusion leaves on a long clip.

- **Quality**: N held-out Moving Shapes clips and N clips of the held-out photos, `sample.window_frames` frames each,
  degraded exactly as in training (mgjax/data/upsample_pairs.py; the same share through the TAE). Beside the
  configured sampler, one Euler step from noise: the model's estimate of the clip's mean, which a sampler's detail
  moves away from (a sample's error is the mean's plus the spread the model leaves). The image VAE's round trip of
  the ground truth is printed as the ceiling a latent upsampler can reach.
- **Seams**: clips of the held-out photos under a slow pan, 64 frames, upsampled with the configured windows averaged
  (the paper's), with linear ramps across the overlap, and with non-overlapping windows (the baseline). The measure
  is the mean absolute difference between consecutive output frames, at the frame pairs where the covering windows
  change (joins) over the pairs inside windows; 1 is seamless.
  The ground truth's own ratio at the same pairs is printed beside it (camera motion is not uniform).

Writes eval/eval_upsample.json and eval/upsample_examples.png (input, bicubic, upsampler, ground truth).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import jax
import numpy as np
from PIL import Image

from mgjax.checkpoint.restore import load_codec
from mgjax.config.data import NaturalClipsConfig
from mgjax.config.schema import Config
from mgjax.data.natural_clips import NaturalClips
from mgjax.data.upsample_pairs import UpsamplePairs, upsample_pairs
from mgjax.eval.metrics import psnr, ssim
from mgjax.flow.multidiffusion import window_length, window_starts
from mgjax.models.codec import pixels_to_unit, unit_to_pixels
from mgjax.pipelines.upsample import UpsampleSampler
from mgjax.pipelines.video_io import resize_video
from mgjax.train.upsample_step import tae_count, tae_roundtrip

SEAM_FRAMES = 64


def scores(truth: np.ndarray, out: np.ndarray) -> dict:
    """Mean per-frame PSNR (dB) and SSIM of uint8 clips."""
    return {"psnr": float(np.mean(psnr(truth, out))), "ssim": float(np.mean(ssim(truth, out)))}


def heldout(pairs: UpsamplePairs, num: int, tae, tae_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """(ground truth, low-resolution inputs) of the first `num` held-out pairs, the first round(tae_prob x num) of
    them through the TAE, as training treats a batch."""
    items = [pairs[i] for i in range(num)]
    truth, low = np.stack([x["video"] for x in items]), np.stack([x["source"] for x in items])
    low = np.asarray(unit_to_pixels(tae_roundtrip(tae, pixels_to_unit(low), tae_count(tae_prob, num))))
    return truth, low


def quality(sampler: UpsampleSampler, cfg: Config, tae, num: int) -> tuple[dict, list]:
    frames = cfg.sample.window_frames
    long_cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, num_frames=frames))
    table, examples = {}, []
    for name in ("heldout_shapes", "heldout_real"):
        with jax.set_mesh(sampler.mesh):
            truth, low = heldout(upsample_pairs(long_cfg, name), num, tae, cfg.data.upsample.tae_prob)
        h, w = truth.shape[2:4]
        out = np.concatenate([sampler.upsample(low[i:i + 8], progress=False, first_index=i)
                              for i in range(0, num, 8)])
        one = np.concatenate([sampler.upsample(low[i:i + 8], num_steps=1, progress=False, first_index=i)
                              for i in range(0, num, 8)])
        with jax.set_mesh(sampler.mesh):
            ceiling = np.asarray(unit_to_pixels(sampler.codec.decode(sampler.codec.encode(pixels_to_unit(truth)),
                                                                     frames)))
        table[name] = {"upsampler": scores(truth, out), "one_step": scores(truth, one),
                       "bicubic": scores(truth, resize_video(low, h, w, "bicubic")),
                       "bilinear": scores(truth, resize_video(low, h, w, "bilinear")),
                       "vae_ceiling": scores(truth, ceiling)}
        for i in range(2):
            examples.append((name, low[i], resize_video(low[i], h, w, "bicubic"), out[i], truth[i]))
    return table, examples


def join_pairs(num_frames: int, window: int, overlap: int) -> np.ndarray:
    """Booleans over the num_frames - 1 consecutive pairs: True where the windows covering the two frames differ."""
    starts, length = window_starts(num_frames, window, overlap), window_length(num_frames, window)
    joins = np.zeros(num_frames - 1, bool)
    for s in starts:
        if s > 0:
            joins[s - 1] = True
        if s + length < num_frames:
            joins[s + length - 1] = True
    return joins


def seam_ratio(videos: np.ndarray, joins: np.ndarray) -> float:
    """Mean |frame k+1 - frame k| over the join pairs / over the other pairs, for uint8 (n, t, h, w, 3)."""
    diff = np.abs(np.diff(videos.astype(np.float32), axis=1)).mean(axis=(0, 2, 3, 4))
    return float(diff[joins].mean() / diff[~joins].mean())


def seams(sampler: UpsampleSampler, cfg: Config, num: int = 4) -> dict:
    """64-frame held-out photo clips under a slow, steady pan (no static clips), clean 2x-downsized inputs."""
    d, m, s = cfg.data, cfg.model, cfg.sample
    clips = NaturalClips("heldout", num_frames=SEAM_FRAMES, height=d.height, width=d.width, seed=d.seed + 7,
                         mix=NaturalClipsConfig(static_prob=0.0, max_speed=0.5))
    truth = np.stack([clips[i]["video"] for i in range(num)])
    low = resize_video(truth, d.height // m.scale, d.width // m.scale, "bicubic")
    out = {"frames": SEAM_FRAMES, "clips": num}
    for name, overlap, ramp in (("overlapping", s.window_overlap, "uniform"),
                                ("overlapping_linear", s.window_overlap, "linear"), ("non_overlapping", 0, "uniform")):
        joins = join_pairs(SEAM_FRAMES, s.window_frames, overlap)
        video = sampler.upsample(low, overlap=overlap, ramp=ramp, progress=False)
        out[name] = {"window": s.window_frames, "overlap": overlap, "ramp": ramp, "ratio": seam_ratio(video, joins),
                     "truth_ratio": seam_ratio(truth, joins), "psnr": scores(truth, video)["psnr"]}
    return out


def examples_figure(examples: list, scale: int = 3) -> Image.Image:
    """Rows of (input, bicubic, upsampler, ground truth), each the first frame, scaled up `scale`x (nearest)."""
    rows = []
    for _, low, bicubic, out, truth in examples:
        h, w = truth.shape[1:3]
        cells = [resize_video(low[:1], h, w, "nearest")[0], bicubic[0], out[0], truth[0]]
        gap = np.full((h, 2, 3), 255, np.uint8)
        rows.append(np.concatenate(sum(([c, gap] for c in cells), [])[:-1], axis=1))
    grid = np.concatenate(sum(([r, np.full((2, rows[0].shape[1], 3), 255, np.uint8)] for r in rows), [])[:-1])
    return Image.fromarray(grid).resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST)


def evaluate(cfg: Config, workdir: str | pathlib.Path, num: int | None = None) -> dict:
    workdir = pathlib.Path(workdir)
    num = num or cfg.eval.num_samples
    sampler = UpsampleSampler(cfg, workdir)
    u = cfg.data.upsample
    with jax.set_mesh(sampler.mesh):
        tae = load_codec(u.tae) if u.tae_prob > 0 else None
    table, examples = quality(sampler, cfg, tae, num)
    result = {"step": int(sampler.step), "num": num, "frames": cfg.sample.window_frames, "quality": table,
              "seams": seams(sampler, cfg)}
    (workdir / "eval").mkdir(parents=True, exist_ok=True)
    (workdir / "eval" / "eval_upsample.json").write_text(json.dumps(result, indent=2))
    examples_figure(examples).save(workdir / "eval" / "upsample_examples.png")
    return result


def summary(r: dict) -> str:
    lines = [f"held-out upsampling, {r['num']} clips of {r['frames']} frames each (step {r['step']}); PSNR dB / SSIM "
             f"against the ground truth"]
    head = (f"{'':16}{'upsampler':>16}{'lead':>8}{'one step':>16}{'bicubic':>16}{'bilinear':>16}"
            f"{'VAE ceiling':>16}")
    lines.append(head)
    for name, t in r["quality"].items():
        cell = lambda s: f"{s['psnr']:7.2f} / {s['ssim']:.3f}"
        lead = t["upsampler"]["psnr"] - t["bicubic"]["psnr"]
        lines.append(f"{name:16}{cell(t['upsampler']):>16}{lead:+8.2f}{cell(t['one_step']):>16}"
                     f"{cell(t['bicubic']):>16}{cell(t['bilinear']):>16}{cell(t['vae_ceiling']):>16}")
    lines.append("(upsampler: the configured sampler; lead: its PSNR over bicubic; one step: the model's estimate of "
                 "the clip's mean from noise alone, the PSNR-optimal output it can give)")
    s = r["seams"]
    lines.append(f"seams on {s['clips']} {s['frames']}-frame clips (frame-to-frame change at joins / inside windows; "
                 f"1 = seamless):")
    for name in ("overlapping", "overlapping_linear", "non_overlapping"):
        x = s[name]
        lines.append(f"  windows {x['window']}/{x['overlap']} {x['ramp']:8}: {x['ratio']:.3f} (ground truth at the "
                     f"same pairs {x['truth_ratio']:.3f}); PSNR {x['psnr']:.2f}")
    return "\n".join(lines)
