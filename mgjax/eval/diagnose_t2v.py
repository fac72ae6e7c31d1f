"""Why does a text-to-video run not learn something? Per-layer probes of a model at chosen flow times.

python -m mgjax diagnose --config configs/shapes_t2v_tiny.py --workdir runs/shapes_t2v_tiny [--json]

For pure-noise inputs at each flow time t (the regime where sampling decides where objects go) it reports, per layer:
- self-attention entropy per head, against log(tokens) for uniform attention: near-uniform heads only average;
- the residual stream's token-common part (the mean over tokens) against its per-token part: when the common part
  dominates, the RMSNorm in front of attention shrinks the per-token (content and position) signal and attention
  cannot select positions;
and, for caption pairs that differ in one word, how far the model's output moves (RMS): a word the model ignores
moves it as little as swapping two phrasings would.
"""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mgjax.config.geometry import patch_grid
from mgjax.pipelines.t2v import T2VSampler

DEFAULT_TIMES = (0.05, 0.5)
# (name, caption a, caption b): the first pair is the reference (a word that is learned early: colour).
DEFAULT_PAIRS = (
    ("colour", "a red circle moving left", "a blue circle moving left"),
    ("shape", "a red circle moving left", "a red square moving left"),
    ("direction", "a red circle moving left", "a red circle moving right"),
)


def _layers(blocks):
    """The blocks one by one: a scanned stack is one module whose parameters carry a leading layer axis."""
    if isinstance(blocks, nnx.List):
        return list(blocks)
    graphdef, state = nnx.split(blocks)
    depth = jax.tree.leaves(state)[0].shape[0]
    return [nnx.merge(graphdef, jax.tree.map(lambda a, i=i: a[i], state)) for i in range(depth)]


def layer_probes(model, latents: jax.Array, t: jax.Array, tokens) -> list[dict]:
    """Per layer: {"entropy": per-head mean self-attention entropy (nats), "common": mean norm of the token-mean of the
    block's input, "per_token": mean norm of its deviations}. model: a TextToVideo; latents (b, t, h, w, c)."""
    bb = model.backbone
    e = bb.embed(latents, t, model.encode_text(tokens))
    x, out = e.x, []
    for block in _layers(bb.blocks):
        x_in = x + e.pos.astype(x.dtype)
        weights = block.self_attention_weights(x_in, e.shared_mod, rope=e.rope)  # (b, heads, n, n)
        entropy = -jnp.sum(weights * jnp.log(weights + 1e-12), axis=-1).mean(axis=(0, 2))
        common = x_in.mean(axis=1, keepdims=True)
        out.append({"entropy": np.asarray(entropy).tolist(),
                    "common": float(jnp.linalg.norm(common, axis=-1).mean()),
                    "per_token": float(jnp.linalg.norm(x_in - common, axis=-1).mean())})
        x = block(x, e.pos, e.shared_mod, e.text, e.text_lengths, rope=e.rope)
    return out


def diagnose(model, latent_shape, tokenize, times=DEFAULT_TIMES, pairs=DEFAULT_PAIRS, batch: int = 8,
             seed: int = 0) -> dict:
    """tokenize(list of captions) -> the model's token inputs. Inputs are X_t for pure noise X_0 (X_1 = 0). The
    sensitivity of a pair is the RMS change of the model's output when the caption changes from one to the other."""
    noise = jax.random.normal(jax.random.key(seed), (batch,) + tuple(latent_shape), jnp.float32)
    num_tokens = math.prod(patch_grid(latent_shape[:3], model.backbone.cfg.patch_size))
    report = {"uniform_entropy": math.log(num_tokens), "times": {}}
    tokens = {c: tokenize([c] * batch) for _, a, b in pairs for c in (a, b)}
    for tv in times:
        t = jnp.full((batch,), tv, jnp.float32)
        xt = (1.0 - tv) * noise
        outputs = {c: model(xt, t, tok) for c, tok in tokens.items()}
        sens = {name: float(jnp.sqrt(jnp.mean(jnp.square(outputs[a] - outputs[b])))) for name, a, b in pairs}
        report["times"][str(tv)] = {"layers": layer_probes(model, xt, t, tokens[pairs[0][1]]), "sensitivity": sens}
    return report


def format_report(report: dict) -> str:
    lines = [f"uniform self-attention entropy: {report['uniform_entropy']:.2f} nats"]
    for tv, entry in report["times"].items():
        lines.append(f"t = {tv}")
        for i, layer in enumerate(entry["layers"]):
            heads = " ".join(f"{e:.2f}" for e in layer["entropy"])
            lines.append(f"  layer {i}: attention entropy per head [{heads}]  residual common {layer['common']:.1f}"
                         f" vs per-token {layer['per_token']:.1f}")
        lines.append("  output change when one caption word changes (RMS): "
                     + ", ".join(f"{k} {v:.4f}" for k, v in entry["sensitivity"].items()))
    return "\n".join(lines)


def run(cfg, workdir, times=DEFAULT_TIMES, as_json: bool = False) -> str:
    """Diagnose a run's EMA weights; -> the printable report (or JSON)."""
    sampler = T2VSampler(cfg, workdir)
    model = nnx.merge(sampler.graphdef, *sampler.weights)
    d = cfg.data
    with jax.set_mesh(sampler.mesh):
        report = diagnose(model, sampler.codec.geometry.latent_shape(d.num_frames, d.height, d.width), sampler.tokens,
                          times=times)
    report["step"] = sampler.step
    return json.dumps(report, indent=2) if as_json else format_report(report)
