"""Descript Audio Codec weights -> mgjax's DAC-VAE (`mgjax/models/audio/dac_vae.py`).

Two key layouts: DAC's own (`encoder.block.N...`, `decoder.model.N...`, the layers of nn.Sequential) and the
`transformers` port's (`DacModel`: `encoder.conv1`, `encoder.block.N.res_unit1...`, `decoder.block.N.conv_t1`). A
conv's weight comes weight-normalised as DAC saves it (`weight_g`, `weight_v`), as torch's parametrization saves it
(`parametrizations.weight.original0` / `original1`) or plain (`weight`, after `remove_weight_norm`: then g = |w| and
v = w, which is the same function). DAC's quantiser (and anything else outside encoder and decoder) is left out: the
DAC-VAE has a Gaussian bottleneck where it sat.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from mgjax.convert.mapping import Path, Source, load_key_map

IGNORE = (r"quantizer\..*",)


def _conv_v(w: np.ndarray) -> np.ndarray:
    """torch Conv1d weight (out, in, k) -> (k, in, out)."""
    return np.transpose(w, (2, 1, 0))


def _conv_transposed_v(w: np.ndarray) -> np.ndarray:
    """torch ConvTranspose1d weight (in, out, k) -> (k, in, out)."""
    return np.transpose(w, (2, 0, 1))


def _norm_g(w: np.ndarray) -> np.ndarray:
    """torch's weight_norm g (dim 0) of a plain weight: the norm over every axis but the first."""
    return np.sqrt(np.sum(np.square(w.astype(np.float64)), axis=(1, 2))).astype(w.dtype)


def _conv(m: dict, ours: Path, theirs: str, checkpoint: Mapping[str, np.ndarray], transposed: bool = False) -> None:
    v_of = _conv_transposed_v if transposed else _conv_v
    if f"{theirs}.weight_g" in checkpoint:
        g, v = f"{theirs}.weight_g", f"{theirs}.weight_v"
    elif f"{theirs}.parametrizations.weight.original0" in checkpoint:
        g, v = f"{theirs}.parametrizations.weight.original0", f"{theirs}.parametrizations.weight.original1"
    else:
        m[(*ours, "g")] = Source(f"{theirs}.weight", _norm_g)
        m[(*ours, "v")] = Source(f"{theirs}.weight", v_of)
        m[(*ours, "bias")] = Source(f"{theirs}.bias")
        return
    m[(*ours, "g")] = Source(g, lambda a: np.reshape(a, (-1,)))
    m[(*ours, "v")] = Source(v, v_of)
    m[(*ours, "bias")] = Source(f"{theirs}.bias")


def _snake(m: dict, ours: Path, theirs: str) -> None:
    m[(*ours, "alpha")] = Source(f"{theirs}.alpha", lambda a: np.reshape(a, (-1,)))


def _residual(m: dict, ours: Path, theirs: str, names: tuple[str, str, str, str], checkpoint) -> None:
    snake1, conv1, snake2, conv2 = names
    _snake(m, (*ours, "snake1"), f"{theirs}.{snake1}")
    _conv(m, (*ours, "conv1"), f"{theirs}.{conv1}", checkpoint)
    _snake(m, (*ours, "snake2"), f"{theirs}.{snake2}")
    _conv(m, (*ours, "conv2"), f"{theirs}.{conv2}", checkpoint)


def dac_key_map(model, checkpoint: Mapping[str, np.ndarray]) -> dict[Path, Source]:
    """The key map for `model` (a DACVAE, or its encoder / decoder halves as the checkpoint holds them)."""
    hf = "encoder.conv1.bias" in checkpoint or "decoder.conv1.bias" in checkpoint
    n = len(model.cfg.strides)
    ru_names = ("snake1", "conv1", "snake2", "conv2") if hf else ("block.0", "block.1", "block.2", "block.3")
    m: dict[Path, Source] = {}
    enc, dec = ("encoder",), ("decoder",)
    if hf:
        _conv(m, (*enc, "conv_in"), "encoder.conv1", checkpoint)
        _snake(m, (*enc, "snake"), "encoder.snake1")
        _conv(m, (*enc, "conv_out"), "encoder.conv2", checkpoint)
        _conv(m, (*dec, "conv_in"), "decoder.conv1", checkpoint)
        _snake(m, (*dec, "snake"), "decoder.snake1")
        _conv(m, (*dec, "conv_out"), "decoder.conv2", checkpoint)
    else:
        _conv(m, (*enc, "conv_in"), "encoder.block.0", checkpoint)
        _snake(m, (*enc, "snake"), f"encoder.block.{n + 1}")
        _conv(m, (*enc, "conv_out"), f"encoder.block.{n + 2}", checkpoint)
        _conv(m, (*dec, "conv_in"), "decoder.model.0", checkpoint)
        _snake(m, (*dec, "snake"), f"decoder.model.{n + 1}")
        _conv(m, (*dec, "conv_out"), f"decoder.model.{n + 2}", checkpoint)
    units = len(model.cfg.dilations)
    for i in range(n):
        e, d = (*enc, "blocks", i), (*dec, "blocks", i)
        te, td = (f"encoder.block.{i}", f"decoder.block.{i}") if hf else (f"encoder.block.{i + 1}.block",
                                                                           f"decoder.model.{i + 1}.block")
        for j in range(units):
            _residual(m, (*e, "res_units", j), f"{te}.res_unit{j + 1}" if hf else f"{te}.{j}", ru_names, checkpoint)
            _residual(m, (*d, "res_units", j), f"{td}.res_unit{j + 1}" if hf else f"{td}.{j + 2}", ru_names,
                      checkpoint)
        _snake(m, (*e, "snake"), f"{te}.snake1" if hf else f"{te}.{units}")
        _conv(m, (*e, "conv"), f"{te}.conv1" if hf else f"{te}.{units + 1}", checkpoint)
        _snake(m, (*d, "snake"), f"{td}.snake1" if hf else f"{td}.0")
        _conv(m, (*d, "conv"), f"{td}.conv_t1" if hf else f"{td}.1", checkpoint, transposed=True)
    return m


def load_dac(model, checkpoint: Mapping[str, np.ndarray], what: str = "DAC checkpoint",
             parts: tuple[str, ...] = ("encoder", "decoder")) -> int:
    """Fill a DACVAE's `parts` from a DAC or `transformers` DacModel state dict (its quantiser, and the parts not
    asked for, ignored); returns the number of values copied. Every key, shape and missing tensor is checked before
    anything is written."""
    total = 0
    full = dac_key_map(model, checkpoint)
    for part in parts:
        key_map = {path[1:]: source for path, source in full.items() if path[0] == part}
        ignore = IGNORE + tuple(rf"{p}\..*" for p in ("encoder", "decoder") if p != part)
        total += load_key_map(getattr(model, part), key_map, checkpoint, ignore, what)
    return total
