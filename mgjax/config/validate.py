"""Cross-field checks made when a config is built, so a bad combination fails before any compilation."""

from __future__ import annotations

import math

from mgjax.config.schema import Config
from mgjax.errors import UserError


def _positive(name: str, value: int | float) -> None:
    if value <= 0:
        raise UserError(f"{name} must be positive, got {value}")


def _validate_tae(c) -> None:
    from mgjax.models.tae.model import compression

    tae = c.tae
    levels = len(tae.channel_mult) - 1
    if len(tae.temporal_downsample) != levels:
        raise UserError(f"codec.tae.temporal_downsample needs one entry per downsampling level ({levels}), "
                        f"got {len(tae.temporal_downsample)}")
    for name in ("base_channels", "num_res_blocks", "latent_channels", "num_groups", "encode_tile_frames",
                 "decode_tile_frames"):
        _positive(f"codec.tae.{name}", getattr(tae, name))
    if min(tae.channel_mult) < 1:
        raise UserError(f"codec.tae.channel_mult entries must be >= 1, got {tae.channel_mult}")
    if tae.base_channels % tae.num_groups:
        raise UserError(f"codec.tae.base_channels ({tae.base_channels}) must be divisible by num_groups "
                        f"({tae.num_groups})")
    factors = compression(tae)
    if tuple(c.factors) != factors or c.latent_channels != tae.latent_channels:
        raise UserError(f"codec.factors {tuple(c.factors)} / latent_channels {c.latent_channels} must match the TAE: "
                        f"{factors} / {tae.latent_channels}")
    ft, fs = factors[0], factors[1]
    if tae.encode_tile_frames % ft or tae.decode_tile_frames % ft or tae.decode_tile_overlap % ft:
        raise UserError(f"codec.tae tile frames and overlap must be multiples of the temporal compression ({ft})")
    if not 0 <= tae.decode_tile_overlap < tae.decode_tile_frames:
        raise UserError("codec.tae.decode_tile_overlap must be in [0, decode_tile_frames)")
    if tae.spatial_tile and (tae.spatial_tile % fs or tae.spatial_overlap % fs
                             or not 0 <= tae.spatial_overlap < tae.spatial_tile):
        raise UserError(f"codec.tae.spatial_tile and spatial_overlap must be multiples of {fs} with "
                        f"0 <= overlap < tile")


def validate(cfg: Config) -> None:
    m, d, c = cfg.model, cfg.data, cfg.codec
    for name in ("num_layers", "width", "ffn_width", "num_heads", "in_channels", "timestep_freq_dim"):
        _positive(f"model.{name}", getattr(m, name))
    if m.width % m.num_heads:
        raise UserError(f"model.width ({m.width}) must be divisible by model.num_heads ({m.num_heads})")
    if m.timestep_freq_dim % 2:
        raise UserError(f"model.timestep_freq_dim must be even, got {m.timestep_freq_dim}")
    if min(m.patch_size) < 1 or min(m.max_patches) < 1 or min(c.factors) < 1:
        raise UserError("model.patch_size, model.max_patches and codec.factors must be >= 1")
    if c.kind == "tae":
        _validate_tae(c)
    if cfg.task == "tae" and cfg.tae_loss.train_crop % c.factors[1]:
        raise UserError(f"tae_loss.train_crop ({cfg.tae_loss.train_crop}) must be a multiple of the spatial "
                        f"compression ({c.factors[1]})")
    expected = c.pixel_channels * math.prod(c.factors) if c.kind == "space_to_depth" else c.latent_channels
    if cfg.task == "t2v" and m.in_channels != expected:
        raise UserError(f"model.in_channels ({m.in_channels}) must equal the codec's latent channels ({expected})")
    _positive("data.batch_size", d.batch_size)
    if d.source == "latents" and (cfg.task != "t2v" or not d.latents_path):
        raise UserError("data.source=latents trains the video model on precomputed latents: it needs task=t2v and "
                        "data.latents_path=DIR (written by `python -m mgjax.data.latent_records`)")
    for name, size, f, p, cap in (("num_frames", d.num_frames, c.factors[0], m.patch_size[0], m.max_patches[0]),
                                  ("height", d.height, c.factors[1], m.patch_size[1], m.max_patches[1]),
                                  ("width", d.width, c.factors[2], m.patch_size[2], m.max_patches[2])):
        if name == "num_frames" and c.kind == "tae":
            continue  # the TAE encodes any frame count (its issue documents the rule)
        if size % (f * p) and not (name == "num_frames" and size == 1):
            raise UserError(f"data.{name} ({size}) must be divisible by codec factor x patch size ({f} x {p})")
        if max(size // (f * p), 1) > cap:
            raise UserError(f"data.{name} ({size}) needs {size // (f * p)} patches but model.max_patches allows {cap}")
    if not 0.0 <= cfg.text.drop_prob < 1.0:
        raise UserError(f"text.drop_prob must be in [0, 1), got {cfg.text.drop_prob}")
    if not cfg.text.encoders:
        raise UserError("text.encoders must list at least one encoder")
    names = [e.name for e in cfg.text.encoders]
    if len(set(names)) != len(names):
        raise UserError(f"text.encoders names must be unique, got {names}")
    for i, e in enumerate(cfg.text.encoders):
        for name in ("vocab_size", "width", "num_layers", "num_heads", "head_dim", "ffn_width", "max_length"):
            _positive(f"text.encoders.{i}.{name}", getattr(e, name))
        _validate_text_encoder(f"text.encoders.{i}", e)
    if d.source in ("video_folder", "tfds"):
        _validate_video_folder(d, c, m)
    if cfg.text.precomputed and (d.source != "latents" or any(e.trainable for e in cfg.text.encoders)):
        raise UserError("text.precomputed reads frozen encoders' outputs from latent records: it needs "
                        "data.source=latents and no trainable encoder")
    s = cfg.sample
    _positive("sample.num_steps", s.num_steps)
    if s.schedule == "linear_quadratic" and not 0 < s.linear_steps < s.num_steps:
        raise UserError(f"sample.linear_steps ({s.linear_steps}) must be in (0, sample.num_steps={s.num_steps})")
    if s.schedule == "linear_quadratic" and s.linear_reference_steps < s.num_steps:
        raise UserError("sample.linear_reference_steps must be >= sample.num_steps")
    o = cfg.optim
    _positive("optim.learning_rate", o.learning_rate)
    if not 0.0 <= o.ema_decay < 1.0:
        raise UserError(f"optim.ema_decay must be in [0, 1), got {o.ema_decay}")
    _positive("train.steps", cfg.train.steps)
    _positive("train.log_every", cfg.train.log_every)
    _positive("train.checkpoint_every", cfg.train.checkpoint_every)
    _positive("train.grad_accum_steps", cfg.train.grad_accum_steps)
    if d.batch_size % cfg.train.grad_accum_steps:
        raise UserError(f"data.batch_size ({d.batch_size}) must be divisible by train.grad_accum_steps "
                        f"({cfg.train.grad_accum_steps})")
    axes = [cfg.mesh.data, cfg.mesh.fsdp, cfg.mesh.tensor, cfg.mesh.context]
    if sum(a == -1 for a in axes) > 1 or any(a == 0 or a < -1 for a in axes):
        raise UserError(f"mesh axes must be positive with at most one -1, got data={axes[0]} fsdp={axes[1]} "
                        f"tensor={axes[2]} context={axes[3]}")
    from mgjax.parallel.presets import check_parallelism

    check_parallelism(cfg, dict(zip(("data", "fsdp", "tensor", "context"), axes)))


# Which tokenizers and activations each encoder kind can use (an external encoder still tokenizes: its ids feed the
# precompute command, or its precomputed outputs replace them).
_KIND_TOKENIZERS = {"t5": ("sentencepiece", "byte"), "clip": ("clip_bpe",),
                    "external": ("sentencepiece", "byte", "clip_bpe")}
_KIND_ACTIVATIONS = {"t5": ("silu", "gelu_tanh"), "clip": ("quick_gelu", "gelu"),
                     "external": ("silu", "gelu_tanh", "quick_gelu", "gelu")}


def _validate_text_encoder(where: str, e) -> None:
    if e.tokenizer not in _KIND_TOKENIZERS[e.kind]:
        raise UserError(f"{where}.tokenizer={e.tokenizer!r} does not fit kind={e.kind!r}; valid: "
                        f"{', '.join(_KIND_TOKENIZERS[e.kind])}")
    if e.activation not in _KIND_ACTIVATIONS[e.kind]:
        raise UserError(f"{where}.activation={e.activation!r} does not fit kind={e.kind!r}; valid: "
                        f"{', '.join(_KIND_ACTIVATIONS[e.kind])}")
    if e.kind == "clip" and e.num_heads * e.head_dim != e.width:
        raise UserError(f"{where}: CLIP needs num_heads x head_dim ({e.num_heads} x {e.head_dim}) == width ({e.width})")
    if e.max_length < (3 if e.tokenizer == "clip_bpe" else 2):
        raise UserError(f"{where}.max_length ({e.max_length}) leaves no room for text between the special tokens")
    if e.projection_dim < 0:
        raise UserError(f"{where}.projection_dim must be >= 0, got {e.projection_dim}")
    if e.relative_bias_locality < 0 or (e.relative_bias_locality and e.kind != "t5"):
        raise UserError(f"{where}.relative_bias_locality must be >= 0 and set only for kind='t5', got "
                        f"{e.relative_bias_locality} with kind={e.kind!r}")


def _validate_video_folder(d, c, m) -> None:
    if not d.root:
        raise UserError(f"data.source={d.source} needs data.root (a directory of videos/images with captions, or a "
                        f"built TFDS dataset)")
    step = (c.factors[1] * m.patch_size[1], c.factors[2] * m.patch_size[2])
    for h, w in d.aspect_sizes:
        if h % step[0] or w % step[1]:
            raise UserError(f"data.aspect_sizes entry {h}x{w} must be divisible by codec factor x patch size "
                            f"({step[0]}x{step[1]})")
    if not d.duration_buckets:
        raise UserError("data.duration_buckets must list at least one (frames, min_s, max_s)")
    for frames, lo, hi in d.duration_buckets:
        if frames < 1 or not 0 < lo <= hi:
            raise UserError(f"data.duration_buckets entry ({frames}, {lo}, {hi}) needs frames >= 1 and 0 < min_s <= "
                            f"max_s")
    longest = max(f for f, _, _ in d.duration_buckets)
    grid = (-(-longest // c.factors[0]) // m.patch_size[0], max(h for h, _ in d.aspect_sizes) // step[0],
            max(w for _, w in d.aspect_sizes) // step[1])
    if any(g > cap for g, cap in zip(grid, m.max_patches)):
        raise UserError(f"the largest bucket needs {grid} patches (t, h, w) but model.max_patches is {m.max_patches}")
    if not 0 < d.fps_floor <= d.fps_cap:
        raise UserError(f"data.fps_floor ({d.fps_floor}) and data.fps_cap ({d.fps_cap}) need 0 < floor <= cap")
    if d.token_budget < 0 or d.max_bad_samples < 0:
        raise UserError("data.token_budget and data.max_bad_samples must be >= 0")
