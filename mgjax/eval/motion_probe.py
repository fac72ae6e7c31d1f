"""Has a Moving Shapes text-to-video run learned what a motion word means, even as a plain average?

python -m mgjax motion-probe --config configs/shapes_t2v_tiny.py --workdir runs/shapes_t2v_tiny

Near t = 0 the flow-matching optimum is the data's conditional mean E[X_1 | caption]. For "a blue square moving left
quickly" that mean is a smear whose mass moves from the right of frame 0 to the left of the last frame. The probe
compares, per frame, where the model's near-t = 0 prediction (averaged over noise) puts the object's colour mass along
the motion axis with where the training clips with that colour, direction and speed put it. A model that ignores the
motion word keeps the same centroid in every frame, for every direction; sampling cannot recover what this average
lacks, since the first sampling steps follow it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mgjax.data.moving_shapes import DIRECTION_VECTORS
from mgjax.data.t2v_loader import shapes_source
from mgjax.eval.shapes_evaluator import parse_caption
from mgjax.pipelines.t2v import T2VSampler

DEFAULT_CAPTIONS = ("a blue square moving left quickly", "a blue square moving right quickly",
                    "a blue square moving up quickly")


def mass_centroids(video: np.ndarray, axis: str) -> np.ndarray:
    """Per-frame centroid (in pixels) of the saturation (max - min over RGB), which is small on the grey backgrounds
    (a tint of at most ~12 of 255) and large on the palette's objects, along "col" or "row": video (t h w 3) float
    -> (t,). The backgrounds' residual tint pulls the centroid slightly towards the frame centre."""
    sat = video.max(-1) - video.min(-1)
    profile = sat.mean(1 if axis == "col" else 2)  # (t, w) or (t, h)
    index = np.arange(profile.shape[1]) + 0.5
    return (profile * index).sum(1) / np.maximum(profile.sum(1), 1e-9)


def data_centroids(source, color: str, direction: str, speed: str | None, axis: str, max_clips: int = 4000,
                   min_clips: int = 32) -> tuple[np.ndarray, int]:
    """Centroids of the mean of the one-object clips among the source's first `max_clips` whose object has this
    colour, direction (and speed, when given): ((t,), number of clips)."""
    total, count = None, 0
    for i in range(max_clips):
        spec = source.spec(i)
        if len(spec.objects) != 1:
            continue
        obj = spec.objects[0]
        if obj.color != color or obj.direction != direction or (speed is not None and obj.speed != speed):
            continue
        clip = source[i]["video"].astype(np.float64)
        total = clip if total is None else total + clip
        count += 1
    if count < min_clips:
        raise ValueError(f"only {count} training clips match {color} {direction} {speed}; raise max_clips")
    return mass_centroids(total / count, axis), count


def model_centroids(predict_data, tokenize, latent_shape, decode, caption: str, axis: str, t: float = 0.02,
                    batch: int = 32, seed: int = 0) -> np.ndarray:
    """Centroids of the model's prediction of X_1 at flow time t from pure noise, averaged over `batch` noises.
    predict_data(x_t, t (b,), tokens) -> X_1 estimate; decode(latents) -> video in [-1, 1]."""
    noise = jax.random.normal(jax.random.key(seed), (batch,) + tuple(latent_shape), jnp.float32)
    x1 = predict_data((1.0 - t) * noise, jnp.full((batch,), t, jnp.float32), tokenize([caption] * batch))
    video = np.asarray(decode(x1), np.float64).mean(0)
    return mass_centroids((video + 1.0) * 127.5, axis)


def probe(cfg, predict_data, tokenize, codec, captions=DEFAULT_CAPTIONS, t: float = 0.02) -> list[dict]:
    """Per caption: {"caption", "axis", "model": per-frame centroids, "data": the same for the training clips,
    "clips": how many}. The caption names one object: colour, direction and optionally speed."""
    d = cfg.data
    source = shapes_source(d)
    latent_shape = codec.geometry.latent_shape(d.num_frames, d.height, d.width)
    out = []
    for caption in captions:
        (obj,) = parse_caption(caption)
        if obj["direction"] is None:
            raise ValueError(f"caption {caption!r} names no direction")
        axis = "col" if DIRECTION_VECTORS[obj["direction"]][1] else "row"
        data, clips = data_centroids(source, obj["color"], obj["direction"], obj["speed"], axis)
        model = model_centroids(predict_data, tokenize, latent_shape, lambda z: codec.decode(z, d.num_frames),
                                caption, axis, t=t)
        out.append({"caption": caption, "axis": axis, "model": model.tolist(), "data": data.tolist(),
                    "clips": clips})
    return out


def format_probe(rows: list[dict]) -> str:
    fmt = lambda xs: " ".join(f"{x:5.1f}" for x in xs)
    lines = []
    for r in rows:
        lines.append(f"{r['caption']!r} ({r['axis']} centroid per frame, px)")
        lines.append(f"  model {fmt(r['model'])}")
        lines.append(f"  data  {fmt(r['data'])}   (mean of {r['clips']} training clips)")
    return "\n".join(lines)


def run(cfg, workdir, captions=DEFAULT_CAPTIONS, t: float = 0.02) -> str:
    """Probe a run's EMA weights; -> the printable report."""
    sampler = T2VSampler(cfg, workdir)
    velocity = jax.jit(sampler.velocity)

    def predict_data(x, t, tokens):  # X_t + (1 - t) V = X_1 + sigma_min X_0 on the OT path: X_1 to 1e-5
        return x + (1.0 - t)[:, None, None, None, None] * velocity(sampler.weights, x, t, tokens)

    with jax.set_mesh(sampler.mesh):
        rows = probe(cfg, predict_data, sampler.tokens, sampler.codec, tuple(captions), t)
    return f"checkpoint step {sampler.step}, t = {t}\n" + format_probe(rows)
