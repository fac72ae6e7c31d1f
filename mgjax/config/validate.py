"""Checks made when a config is built, so a bad value or combination fails in one line before any compilation.

`validate(cfg)` checks every section that means the same whatever the task (text, codec, data, sampling, optimizer,
training, mesh); each task (mgjax/train/tasks/) adds its own cross-section checks from the helpers here.
"""

from __future__ import annotations

from mgjax.config.codec import CodecConfig
from mgjax.config.data import DataConfig, NaturalClipsConfig
from mgjax.config.geometry import codec_geometry, patch_grid, tae_compression
from mgjax.config.mesh import PRESET_AXES, PRESETS, MeshConfig
from mgjax.config.schema import Config
from mgjax.config.tae import TAEConfig
from mgjax.config.text import TextEncoderConfig
from mgjax.config.video import VideoModelConfig
from mgjax.errors import UserError


def positive(name: str, value: int | float) -> None:
    if value <= 0:
        raise UserError(f"{name} must be positive, got {value}")


def validate(cfg: Config) -> None:
    """The task-independent sections."""
    validate_text(cfg)
    if cfg.codec.kind in ("tae", "image_vae"):
        validate_tae(cfg.codec.tae, "codec.tae")
        validate_tae_codec(cfg.codec)
    if cfg.codec.kind == "image_vae":
        validate_image_vae(cfg.codec.tae, "codec.tae")
    validate_data(cfg.data)
    validate_sample(cfg)
    o = cfg.optim
    positive("optim.learning_rate", o.learning_rate)
    if not 0.0 <= o.ema_decay < 1.0:
        raise UserError(f"optim.ema_decay must be in [0, 1), got {o.ema_decay}")
    for name in ("steps", "log_every", "checkpoint_every", "grad_accum_steps"):
        positive(f"train.{name}", getattr(cfg.train, name))
    if cfg.data.batch_size % cfg.train.grad_accum_steps:
        raise UserError(f"data.batch_size ({cfg.data.batch_size}) must be divisible by train.grad_accum_steps "
                        f"({cfg.train.grad_accum_steps})")
    validate_mesh(cfg.mesh)


def validate_mesh(mesh: MeshConfig) -> None:
    axes = mesh.axes()
    if sum(a == -1 for a in axes.values()) > 1 or any(a == 0 or a < -1 for a in axes.values()):
        raise UserError("mesh axes must be positive with at most one -1, got "
                        + " ".join(f"{k}={v}" for k, v in axes.items()))
    check_preset_mesh(mesh.parallelism, {a: s for a, s in axes.items() if s != 1})


def check_preset_mesh(preset: str, mesh_shape: dict[str, int]) -> None:
    """An axis the preset does not shard over must have size 1 (it would silently replicate work). Axes still at -1
    are checked again once the mesh exists."""
    allowed = PRESET_AXES[preset]
    extra = {a: s for a, s in mesh_shape.items() if a not in allowed and s != 1}
    if extra:
        got = " ".join(f"{a}={s}" for a, s in extra.items())
        raise UserError(f"parallelism preset {preset!r} shards over {', '.join(allowed)} only, but the mesh has {got}; "
                        f"set those axes to 1 or pick a preset from: {', '.join(PRESETS)}")


def check_batch_divides(batch_size: int, grad_accum_steps: int, mesh_shape: dict[str, int], rules) -> None:
    """The (micro-)batch must split evenly over the mesh axes the task shards batches over; otherwise every device
    would get a copy of the whole batch (sharding falls back to replication) and do all of the work."""
    axes = dict(rules).get("batch") or ()
    axes = (axes,) if isinstance(axes, str) else tuple(axes)
    ways = 1
    for a in axes:
        ways *= mesh_shape.get(a, 1)
    micro = batch_size // max(grad_accum_steps, 1)
    if ways > 1 and micro % ways:
        per = f"micro-batch ({batch_size} / train.grad_accum_steps {grad_accum_steps} = {micro})" \
            if grad_accum_steps > 1 else f"data.batch_size ({batch_size})"
        fit = -(-micro // ways) * ways * max(grad_accum_steps, 1)
        raise UserError(f"the {per} does not split over the batch axes {' x '.join(axes)} = {ways} devices; set "
                        f"data.batch_size to a multiple of {ways * max(grad_accum_steps, 1)} (e.g. {fit}) or use "
                        f"fewer devices")


def check_divisibility(*, num_heads: int, ffn_width: int, tokens: int, mesh_shape: dict[str, int],
                       preset: str) -> None:
    """Heads and the FFN split over `tensor`; the token sequence over `context` (and `tensor` under SP)."""
    tensor, context = max(mesh_shape.get("tensor", 1), 1), max(mesh_shape.get("context", 1), 1)
    if num_heads % tensor or ffn_width % tensor:
        raise UserError(f"model.num_heads ({num_heads}) and model.ffn_width ({ffn_width}) must be divisible by "
                        f"mesh.tensor ({tensor})")
    sp = preset.startswith("fsdp_tp_sp")
    seq_split = context * (tensor if sp else 1)
    if tokens % seq_split:
        split = f"mesh.context ({context}) x mesh.tensor ({tensor})" if sp else f"mesh.context ({context})"
        raise UserError(f"the clip's {tokens} tokens must be divisible by {split} under preset {preset!r}")


def validate_video_model(m: VideoModelConfig, where: str = "model") -> None:
    for name in ("num_layers", "width", "ffn_width", "num_heads", "in_channels", "timestep_freq_dim"):
        positive(f"{where}.{name}", getattr(m, name))
    if m.width % m.num_heads:
        raise UserError(f"{where}.width ({m.width}) must be divisible by {where}.num_heads ({m.num_heads})")
    if m.timestep_freq_dim % 2:
        raise UserError(f"{where}.timestep_freq_dim must be even, got {m.timestep_freq_dim}")
    if min(m.patch_size) < 1 or min(m.max_patches) < 1:
        raise UserError(f"{where}.patch_size and {where}.max_patches must be >= 1")
    if m.cond_channels < 0 or m.time_cond_width < 0 or any(w < 1 for w in m.context_widths):
        raise UserError(f"{where}.cond_channels and time_cond_width must be >= 0 and context_widths entries >= 1")
    if m.cond_skip and not m.cond_channels:
        raise UserError(f"{where}.cond_skip needs {where}.cond_channels: build the model with its system's builder "
                        "(mgjax.config.upsample.upsampler_model, mgjax.config.edit.edit_model)")


def validate_clip_geometry(d: DataConfig, c: CodecConfig, m: VideoModelConfig) -> None:
    """The configured clip must patchify exactly (no silently dropped latent rows) and fit the positional tables."""
    if min(c.factors) < 1:
        raise UserError("codec.factors must be >= 1")
    geometry = codec_geometry(c)
    latent = geometry.latent_shape(d.num_frames, d.height, d.width)
    for i, (name, size) in enumerate((("num_frames", d.num_frames), ("height", d.height), ("width", d.width))):
        f, p, cap = geometry.factors[i], m.patch_size[i], m.max_patches[i]
        image = i == 0 and size == 1
        any_length = i == 0 and c.kind == "tae"  # the TAE encodes any frame count (ceil); its latent must patchify
        if not image and (latent[i] % p if any_length else size % (f * p)):
            raise UserError(f"data.{name} ({size}) must be divisible by codec factor x patch size ({f} x {p})")
        if max(latent[i] // p, 1) > cap:
            raise UserError(f"data.{name} ({size}) needs {latent[i] // p} patches but model.max_patches allows {cap}")
    if d.source in ("video_folder", "tfds"):
        _validate_buckets(d, c, m)


def validate_tae(tae: TAEConfig, where: str) -> None:
    levels = len(tae.channel_mult) - 1
    if len(tae.temporal_downsample) != levels:
        raise UserError(f"{where}.temporal_downsample needs one entry per downsampling level ({levels}), "
                        f"got {len(tae.temporal_downsample)}")
    for name in ("base_channels", "num_res_blocks", "latent_channels", "num_groups", "encode_tile_frames",
                 "decode_tile_frames"):
        positive(f"{where}.{name}", getattr(tae, name))
    if min(tae.channel_mult) < 1:
        raise UserError(f"{where}.channel_mult entries must be >= 1, got {tae.channel_mult}")
    if tae.base_channels % tae.num_groups:
        raise UserError(f"{where}.base_channels ({tae.base_channels}) must be divisible by num_groups "
                        f"({tae.num_groups})")
    ft, fs, _ = tae_compression(tae)
    if tae.encode_tile_frames % ft or tae.decode_tile_frames % ft or tae.decode_tile_overlap % ft:
        raise UserError(f"{where} tile frames and overlap must be multiples of the temporal compression ({ft})")
    if not 0 <= tae.decode_tile_overlap < tae.decode_tile_frames:
        raise UserError(f"{where}.decode_tile_overlap must be in [0, decode_tile_frames)")
    if tae.spatial_tile and (tae.spatial_tile % fs or tae.spatial_overlap % fs
                             or not 0 <= tae.spatial_overlap < tae.spatial_tile):
        raise UserError(f"{where}.spatial_tile and spatial_overlap must be multiples of {fs} with "
                        f"0 <= overlap < tile")


def validate_image_vae(tae: TAEConfig, where: str) -> None:
    """An image VAE encodes each frame on its own: nothing in it may mix frames, and its tiles do not overlap."""
    if any(tae.temporal_downsample) or tae.temporal_kernel != 1 or (tae.mid_attention and tae.temporal_attention):
        raise UserError(f"{where} is not frame-wise: an image VAE needs temporal_downsample all False, "
                        f"temporal_kernel=1 and temporal_attention=False")
    if tae.decode_tile_overlap:
        raise UserError(f"{where}.decode_tile_overlap must be 0 for an image VAE (its frames decode on their own)")


def validate_tae_codec(c: CodecConfig) -> None:
    factors = tae_compression(c.tae)
    if tuple(c.factors) != factors or c.latent_channels != c.tae.latent_channels:
        raise UserError(f"codec.factors {tuple(c.factors)} / latent_channels {c.latent_channels} must match the TAE: "
                        f"{factors} / {c.tae.latent_channels}")


def validate_text(cfg: Config) -> None:
    text = cfg.text
    if not 0.0 <= text.drop_prob < 1.0:
        raise UserError(f"text.drop_prob must be in [0, 1), got {text.drop_prob}")
    if not text.encoders:
        raise UserError("text.encoders must list at least one encoder")
    names = [e.name for e in text.encoders]
    if len(set(names)) != len(names):
        raise UserError(f"text.encoders names must be unique, got {names}")
    for i, e in enumerate(text.encoders):
        for name in ("vocab_size", "width", "num_layers", "num_heads", "head_dim", "ffn_width", "max_length"):
            positive(f"text.encoders.{i}.{name}", getattr(e, name))
        _validate_text_encoder(f"text.encoders.{i}", e)
    if text.precomputed and (cfg.data.source != "latents" or any(e.trainable for e in text.encoders)):
        raise UserError("text.precomputed reads frozen encoders' outputs from latent records: it needs "
                        "data.source=latents and no trainable encoder")


# Which tokenizers and activations each encoder kind can use (an external encoder still tokenizes: its ids feed the
# precompute command, or its precomputed outputs replace them).
_KIND_TOKENIZERS = {"t5": ("sentencepiece", "byte"), "clip": ("clip_bpe",),
                    "external": ("sentencepiece", "byte", "clip_bpe")}
_KIND_ACTIVATIONS = {"t5": ("silu", "gelu_tanh"), "clip": ("quick_gelu", "gelu"),
                     "external": ("silu", "gelu_tanh", "quick_gelu", "gelu")}


def _validate_text_encoder(where: str, e: TextEncoderConfig) -> None:
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


def validate_natural_clips(n: NaturalClipsConfig, where: str = "data.natural") -> None:
    weights = (n.shapes_weight, n.procedural_weight, n.photo_weight)
    if min(weights) < 0 or sum(weights) <= 0:
        raise UserError(f"{where}.shapes_weight, procedural_weight and photo_weight must be >= 0 and not all 0, got "
                        f"{weights}")
    if not 0 <= n.static_prob <= 1 or n.max_speed < 0:
        raise UserError(f"{where}.static_prob must be in [0, 1] and {where}.max_speed >= 0, got {n.static_prob} and "
                        f"{n.max_speed}")


def validate_data(d: DataConfig) -> None:
    positive("data.batch_size", d.batch_size)
    if d.source == "natural_clips":
        validate_natural_clips(d.natural)
    if d.source == "audio_folder" and not d.root:
        raise UserError("data.source=audio_folder needs data.root (a directory of audio or video files)")
    if d.source == "latents" and not d.latents_path:
        raise UserError("data.source=latents needs data.latents_path=DIR (written by `python -m mgjax precompute`)")
    if d.source in ("video_folder", "tfds"):
        if not d.root:
            raise UserError(f"data.source={d.source} needs data.root (a directory of videos/images with captions, or "
                            f"a built TFDS dataset)")
        if not d.duration_buckets:
            raise UserError("data.duration_buckets must list at least one (frames, min_s, max_s)")
        for frames, lo, hi in d.duration_buckets:
            if frames < 1 or not 0 < lo <= hi:
                raise UserError(f"data.duration_buckets entry ({frames}, {lo}, {hi}) needs frames >= 1 and "
                                f"0 < min_s <= max_s")
        if not 0 < d.fps_floor <= d.fps_cap:
            raise UserError(f"data.fps_floor ({d.fps_floor}) and data.fps_cap ({d.fps_cap}) need 0 < floor <= cap")
        if d.token_budget < 0 or d.max_bad_samples < 0:
            raise UserError("data.token_budget and data.max_bad_samples must be >= 0")


def _validate_buckets(d: DataConfig, c: CodecConfig, m: VideoModelConfig) -> None:
    geometry = codec_geometry(c)
    step = (geometry.factors[1] * m.patch_size[1], geometry.factors[2] * m.patch_size[2])
    for h, w in d.aspect_sizes:
        if h % step[0] or w % step[1]:
            raise UserError(f"data.aspect_sizes entry {h}x{w} must be divisible by codec factor x patch size "
                            f"({step[0]}x{step[1]})")
    longest = max(f for f, _, _ in d.duration_buckets)
    latent = geometry.latent_shape(longest, max(h for h, _ in d.aspect_sizes), max(w for _, w in d.aspect_sizes))
    grid = patch_grid(latent, m.patch_size)
    if any(g > cap for g, cap in zip(grid, m.max_patches)):
        raise UserError(f"the largest bucket needs {grid} patches (t, h, w) but model.max_patches is {m.max_patches}")


def validate_sample(cfg: Config) -> None:
    s = cfg.sample
    positive("sample.num_steps", s.num_steps)
    if s.schedule == "linear_quadratic" and not 0 < s.linear_steps < s.num_steps:
        raise UserError(f"sample.linear_steps ({s.linear_steps}) must be in (0, sample.num_steps={s.num_steps})")
    if s.schedule == "linear_quadratic" and s.linear_reference_steps < s.num_steps:
        raise UserError("sample.linear_reference_steps must be >= sample.num_steps")
    if s.window_frames < 1 or not 0 <= s.window_overlap < s.window_frames:
        raise UserError(f"sample.window_frames ({s.window_frames}) must be >= 1 and sample.window_overlap "
                        f"({s.window_overlap}) in [0, window_frames)")

