"""Training: steps, optimizer, checkpoints, initialisation from a parent run, and evaluation sizes."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """AdamW with warmup and decay. The paper gives only the video model's LRs (1e-4 T2I, 6e-5 joint stages)."""

    learning_rate: float = 1e-4
    warmup_steps: int = 1000
    decay: Literal["cosine", "constant"] = "constant"
    end_lr_ratio: float = 0.1  # cosine decays to learning_rate * end_lr_ratio
    b1: float = 0.9
    b2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.9999
    # "muon": orthogonalised momentum (optax.contrib.muon) for the weight matrices and conv kernels, AdamW (b1, b2) for
    # the rest and for the layers that touch pixels (3 channels); updates scaled to AdamW's RMS (consistent_rms 0.2),
    # so `learning_rate` means the same for both. The paper names no optimizer for the TAE.
    optimizer: Literal["adamw", "muon"] = "adamw"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    seed: int = 0
    # Gradient accumulation: the global batch runs as this many micro-batches (a scan, so activations are held for
    # one micro-batch at a time), their gradients averaged into one update; the loss equals the full batch's.
    grad_accum_steps: int = 1
    log_every: int = 50
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    # A parent run (DIR or DIR:STEP) whose weights start this one (paper: Edit and PT2V start from the text-to-video
    # model, the upsampler from a text-to-image model). Matching parameters are copied, a widened patchify keeps the
    # parent's kernel for the old channels, new modules keep their zero initialisation (mgjax/checkpoint/surgery.py).
    init_from: str = ""
    init_from_weights: Literal["ema", "params"] = "ema"  # which of the parent's weights


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """The evaluator of a run (the Moving Shapes judge: held-out captions sampled and scored from the pixels)."""

    num_samples: int = 64
    num_videos_to_write: int = 4
