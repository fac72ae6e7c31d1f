"""The Movie Gen Video transformer's config (paper §3.1, v1 Table 1) and its named sizes."""

from __future__ import annotations

import dataclasses
from typing import Literal

Dtype = Literal["float32", "bfloat16"]
RematPolicy = Literal["none", "full", "save_dots", "save_attention", "offload_dots"]
AttentionImpl = Literal["auto", "xla", "cudnn", "splash"]


@dataclasses.dataclass(frozen=True)
class VideoModelConfig:
    """The backbone. Defaults are the 30B model; `video_model(size, ...)` picks a named size."""

    num_layers: int = 48
    width: int = 6144
    ffn_width: int = 16384
    num_heads: int = 48
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (t, h, w) patchify kernel = stride (paper: (1, 2, 2))
    in_channels: int = 16  # latent channels of the codec (paper: 16)
    # Positional-table lengths in patch units (t, h, w); the paper does not give maxLen. These cover the 768 px stage
    # (32 latent frames; 1024x576 and 576x1024 buckets: 64 patches on the long side).
    max_patches: tuple[int, int, int] = (32, 64, 64)
    pos_embed_init_scale: float = 0.5  # amplitude of the learnable PE tables' sin-cos init (paper silent)
    timestep_freq_dim: int = 256  # sinusoidal features fed to the timestep MLP (paper silent; DiT's choice)
    qk_norm: bool = False  # RMSNorm on q and k per head (paper silent; off is the block of §3.1.3)
    cross_attention_norm: bool = False  # RMSNorm before the cross-attention (paper silent; off is §3.1.3)
    rope: bool = False  # 3D rotary embeddings on q and k, on top of the absolute tables (not in the paper)
    rope_theta: float = 10_000.0
    norm_eps: float = 1e-6
    dtype: Dtype = "bfloat16"  # activations and matmuls; params, norms, softmax and losses stay float32
    param_dtype: Dtype = "float32"
    remat: RematPolicy = "full"
    attention: AttentionImpl = "auto"  # auto: cuDNN flash on GPU, Pallas splash on TPU, XLA elsewhere
    # Context parallelism over the mesh's `context` axis: "all_gather" is the paper's (K/V all-gathered, Q local);
    # "ring" passes K/V blocks around the ring with an online softmax (less memory, cp sequential steps).
    context_parallel: Literal["all_gather", "ring"] = "all_gather"
    scan_layers: bool = True
    # Conditioning for the systems built on this backbone; every new input weight starts at zero, so a child model
    # reproduces its text-to-video parent at initialisation (`train.init_from`).
    # Channels of a conditioning latent concatenated to the noisy latent before patchify (Edit: the input video's
    # latent, paper §5: 16 -> 32 channels; the upsampler: the low-resolution latent).
    cond_channels: int = 0
    # A zero-initialised linear map from each patch of the conditioning latent straight to the output patch, scaled by
    # (1 - t) so it speaks at the noise end and is silent at the data end (paper silent; not in the paper configs).
    # Copying the input is then one linear map away instead of a path the stack must learn: the blocks learn only
    # what the output changes (docs/upsample.md, docs/edit.md). Needs cond_channels; meant for data
    # prediction, where the output is the clip itself.
    cond_skip: bool = False
    # The skip's output is gain x (kernel @ patch). Adam moves a weight by about the learning rate per step, so a
    # zero-initialised map needs ~1 / lr steps to reach the identity; the gain makes it that many times faster (it
    # acts as a learning-rate multiplier for this one map).
    cond_skip_gain: float = 1.0
    # Widths of extra context-token streams joined to the text tokens in cross-attention (Edit: its 4 task tokens;
    # PT2V: the vision encoder's tokens). Each stream has a zero-initialised projection to the model width.
    context_widths: tuple[int, ...] = ()
    # Width of a vector added, through a zero-initialised projection, to the timestep embedding (Edit's task
    # embedding, paper §5.1). 0: none.
    time_cond_width: int = 0


# name: (layers, width, FFN width, heads). Only 30B is the paper's (v1 Table 1); the paper's 5B/9B/17B shapes were
# not published, so 1B and 5B are the MindSpore reproduction's choices; tiny and micro are CPU sizes. 7B is the spatial
# upsampler's size (paper §3.1.7 gives 7B and no shape): the 5B reproduction's depth (32), the 30B's head dim (128),
# the width that makes 7B with an FFN of 3x the width (docs/upsample.md).
VIDEO_MODEL_SIZES: dict[str, tuple[int, int, int, int]] = {
    "micro": (2, 32, 64, 2),
    "tiny": (4, 128, 384, 4),
    "1B": (24, 1536, 4096, 16),
    "5B": (32, 3072, 8192, 24),
    "7B": (32, 3584, 10752, 28),
    "30B": (48, 6144, 16384, 48),
}


def video_model(size: str, **overrides) -> VideoModelConfig:
    """The named size with other fields replaced, e.g. video_model("tiny", in_channels=48, dtype="float32")."""
    if size not in VIDEO_MODEL_SIZES:
        raise KeyError(f"unknown video model size {size!r}; valid: {', '.join(VIDEO_MODEL_SIZES)}")
    layers, width, ffn, heads = VIDEO_MODEL_SIZES[size]
    return VideoModelConfig(**{"num_layers": layers, "width": width, "ffn_width": ffn, "num_heads": heads,
                               **overrides})
