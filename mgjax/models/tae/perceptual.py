"""An LPIPS perceptual distance (Zhang et al. 2018, VGG16 variant), with weights loaded from a file.

Nothing is downloaded: `load_lpips(path)` reads an .npz holding torchvision's VGG16 `features.{i}.weight/bias`
(OIHW, as torch saves them) and LPIPS's `lin{k}.model.1.weight` (the non-negative 1x1 heads). The network is built
from the shapes in the file, so a small file made in a test exercises the same loading path as the real one.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from mgjax.errors import UserError

# LPIPS's input normalisation (applied to images in [-1, 1]).
_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
_SCALE = np.array([0.458, 0.448, 0.450], np.float32)
# torchvision VGG16 `features` indices of the convs; LPIPS taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
VGG16_CONVS = ((0, 2), (5, 7), (10, 12, 14), (17, 19, 21), (24, 26, 28))


class LPIPS:
    """A pure function of its weights: `lpips(x, y)` -> per-image distance (n,) for images (n, h, w, 3) in [-1, 1]."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.stages = []
        for stage in VGG16_CONVS:
            convs = []
            for index in stage:
                w = weights[f"features.{index}.weight"]  # (out, in, kh, kw)
                convs.append((jnp.asarray(np.transpose(w, (2, 3, 1, 0))), jnp.asarray(weights[f"features.{index}.bias"])))
            self.stages.append(convs)
        self.lins = [jnp.asarray(weights[f"lin{k}.model.1.weight"]).reshape(-1) for k in range(len(VGG16_CONVS))]

    def features(self, x: jax.Array) -> list[jax.Array]:
        x = (x - _SHIFT) / _SCALE
        taps = []
        for i, stage in enumerate(self.stages):
            if i:
                x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
            for w, b in stage:
                x = jax.nn.relu(jax.lax.conv_general_dilated(x, w.astype(x.dtype), (1, 1), "SAME",
                                                             dimension_numbers=("NHWC", "HWIO", "NHWC")) + b)
            taps.append(x)
        return taps

    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        total = 0.0
        for fx, fy, lin in zip(self.features(x.astype(jnp.float32)), self.features(y.astype(jnp.float32)), self.lins):
            nx = fx / (jnp.linalg.norm(fx, axis=-1, keepdims=True) + 1e-10)
            ny = fy / (jnp.linalg.norm(fy, axis=-1, keepdims=True) + 1e-10)
            total = total + jnp.mean(jnp.square(nx - ny) @ lin, axis=(1, 2))
        return total


def load_lpips(path: str | pathlib.Path) -> LPIPS:
    path = pathlib.Path(path)
    if not path.is_file():
        raise UserError(f"perceptual weights {str(path)!r} not found: an .npz of torchvision VGG16's features.N "
                        f"and LPIPS's linK arrays (nothing is downloaded), or set loss.perceptual_weight=0")
    with np.load(path) as data:
        weights = {k: data[k] for k in data.files}
    missing = [f"features.{i}.weight" for stage in VGG16_CONVS for i in stage if f"features.{i}.weight" not in weights]
    missing += [f"lin{k}.model.1.weight" for k in range(len(VGG16_CONVS)) if f"lin{k}.model.1.weight" not in weights]
    if missing:
        raise UserError(f"perceptual weights {str(path)!r} lack {len(missing)} arrays, e.g. {missing[0]}")
    return LPIPS(weights)
