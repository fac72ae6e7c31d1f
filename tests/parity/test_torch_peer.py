"""The PyTorch peer of bench/ computes the same function as mgjax's Movie Gen Video backbone (marker `parity`), so
the benchmarks compare like with like: mgjax's weights are loaded into the peer and both forwards must agree."""

from __future__ import annotations

import json
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from conftest import REPO
from mgjax.config import MeshConfig, VideoModelConfig
from mgjax.models.video.transformer import MovieGenVideo
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import VIDEO_RULES, use_rules

pytestmark = pytest.mark.parity


def flatten(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        out.update(flatten(value, name + "/") if isinstance(value, dict) else {name: np.asarray(value)})
    return out


def test_torch_peer_matches_the_mgjax_backbone(parity_python, tmp_path):
    cfg = VideoModelConfig(num_layers=2, width=64, ffn_width=96, num_heads=4, patch_size=(1, 2, 2), in_channels=16,
                           max_patches=(4, 4, 4), dtype="float32", remat="none")
    text = ((24, 7), (12, 5))  # (width, tokens) per encoder
    latent = (3, 6, 8)
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])), use_rules(VIDEO_RULES):
        model = MovieGenVideo(cfg, [w for w, _ in text], rngs=nnx.Rngs(0))
        graphdef, state = nnx.split(model)
        # Random values everywhere: zero-initialised gates and head would hide every block from the comparison.
        leaves, treedef = jax.tree.flatten(state)
        keys = jax.random.split(jax.random.key(1), len(leaves))
        state = jax.tree.unflatten(treedef, [0.3 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves)])
        ks = jax.random.split(jax.random.key(2), 2 + len(text))
        latents = jax.random.normal(ks[0], (2,) + latent + (16,))
        t = jax.random.uniform(ks[1], (2,))
        hidden = [jax.random.normal(k, (2, m, w)) for k, (w, m) in zip(ks[2:], text)]
        expected = nnx.merge(graphdef, state)(latents, t, [(h, jnp.ones(h.shape[:2], bool)) for h in hidden])
    weights = flatten(nnx.to_pure_dict(state))
    spec = {"num_layers": 2, "width": 64, "ffn_width": 96, "num_heads": 4, "patch": [1, 2, 2], "channels": 16,
            "latent": list(latent), "text": [list(x) for x in text], "freq_dim": cfg.timestep_freq_dim,
            "eps": cfg.norm_eps}
    np.savez(tmp_path / "w.npz", **weights)
    np.savez(tmp_path / "x.npz", latents=np.asarray(latents), t=np.asarray(t), spec=json.dumps(spec),
             **{f"text{i}": np.asarray(h) for i, h in enumerate(hidden)})
    result = subprocess.run([str(parity_python), str(REPO / "bench" / "torch_peer.py"), "forward", "--weights",
                             str(tmp_path / "w.npz"), "--inputs", str(tmp_path / "x.npz"), "--out",
                             str(tmp_path / "y.npz")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    got = np.load(tmp_path / "y.npz")["velocity"]
    expected = np.asarray(expected)
    assert got.shape == expected.shape == (2,) + latent + (16,)
    assert float(np.std(expected)) > 0.1  # the blocks really contribute
    rel = np.linalg.norm(got - expected) / np.linalg.norm(expected)
    assert rel < 1e-4, rel  # fp32 (a wrong layout or missing term is O(1))
