"""The typed, frozen config schema shared by every experiment.

Each experiment file in `configs/` returns a `Config`. Fields carry the paper's numbers as defaults where the paper
gives one (`shared/spec/moviegen.md`); where the paper is silent the choice is written next to the field.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Dtype = Literal["float32", "bfloat16"]
RematPolicy = Literal["none", "full", "save_dots", "save_attention", "offload_dots"]
AttentionImpl = Literal["auto", "xla", "cudnn", "splash"]


@dataclasses.dataclass(frozen=True)
class MeshConfig:
    """Device mesh axes; -1 takes the devices left over (at most one axis may be -1)."""

    data: int = -1
    fsdp: int = 1
    tensor: int = 1
    context: int = 1
    # What the axes shard (mgjax/parallel/presets.py): data | fsdp | fsdp_tp | fsdp_tp_sp | fsdp_tp_sp_cp. Axes a
    # preset does not use must be 1. The paper's 768 px stage is fsdp_tp_sp_cp with TP 4 and CP 2.
    parallelism: Literal["data", "fsdp", "fsdp_tp", "fsdp_tp_sp", "fsdp_tp_sp_cp"] = "fsdp_tp_sp_cp"


@dataclasses.dataclass(frozen=True)
class VideoModelConfig:
    """The Movie Gen Video transformer (paper §3.1, v1 Table 1). Defaults are the 30B model."""

    num_layers: int = 48
    width: int = 6144
    ffn_width: int = 16384
    num_heads: int = 48
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (t, h, w) patchify kernel = stride
    in_channels: int = 16  # latent channels of the codec
    # Positional-table lengths in patch units (t, h, w). The paper does not give maxLen; these cover the 768 px stage
    # (32 latent frames, 1024x576 and 576x1024 buckets: 64 patches on the long side).
    max_patches: tuple[int, int, int] = (32, 64, 64)
    # Amplitude of the sin-cos init of the learnable PE tables (paper silent on their init). Near noise a token's
    # patch embedding is noise (std 0.74 per channel in the CPU demo, against a PE RMS of 0.35 at 0.5); a PE too faint
    # under it slows learning anything that depends on where a token is (2.0 shortened that plateau in the CPU
    # demo's experiments, README).
    pos_embed_init_scale: float = 0.5
    timestep_freq_dim: int = 256  # sinusoidal features fed to the timestep MLP (paper silent; DiT's choice)
    # Paper silent on these two; off keeps the block exactly as described in §3.1.3.
    qk_norm: bool = False
    cross_attention_norm: bool = False
    # Not in the paper: 3D rotary embeddings on the self-attention's q and k, on top of the absolute tables
    # (mgjax/nn/rope.py). Off for the paper presets.
    rope: bool = False
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


@dataclasses.dataclass(frozen=True)
class TextEncoderConfig:
    """One frozen (or, in tiny demos, trainable) text encoder whose output the backbone projects to its width.

    `kind="t5"` is the T5 v1.1 / UL2 encoder (ByT5 is the same encoder on bytes); `kind="clip"` is a CLIP text tower
    (MetaCLIP); `kind="external"` means the encoder runs outside this model and its (b, m, width) outputs arrive
    precomputed (`python -m mgjax.data.latent_records --text`). The defaults are UL2 20B's encoder (google/ul2: 32 layers, width 4096,
    16 heads of 256, gated-SiLU FFN 16384, vocab 32128); the paper does not give UL2's size or token limit.
    """

    name: str = "ul2"
    kind: Literal["t5", "clip", "external"] = "t5"
    vocab_size: int = 32128
    width: int = 4096
    num_layers: int = 32
    num_heads: int = 16
    head_dim: int = 256
    ffn_width: int = 16384
    # UL2: gated SiLU; T5 v1.1 and ByT5: gated GELU (tanh form, HF "gelu_new"); CLIP: quick_gelu (OpenAI, MetaCLIP)
    # or gelu (erf). T5 kinds gate (act(x W0) * x W1); CLIP does not.
    activation: Literal["silu", "gelu_tanh", "gelu", "quick_gelu"] = "silu"
    norm_eps: float = 1e-6  # T5's RMS norm 1e-6; CLIP's LayerNorm 1e-5
    max_length: int = 300  # tokens kept per prompt (CLIP: also its position-table size); longer prompts are truncated
    relative_buckets: int = 32  # T5 only
    relative_max_distance: int = 128  # T5 only
    # T5 only, for encoders trained from scratch: 0 is T5's initialisation (a small random bias, so attention starts
    # position-blind). > 0 starts head h with a bias of -locality * 2**-h per token of distance (ALiBi's slopes), so
    # some heads begin by mixing each word with its neighbours (binding "red" to the "left" beside it) and others
    # see the whole prompt. The table stays learnable; loaded weights replace it.
    relative_bias_locality: float = 0.0
    projection_dim: int = 0  # CLIP: width of the pooled-output projection (0: no projection)
    # What the encoder reads: the whole prompt, or only its quoted spans (ByT5 reads the text to render, paper §3.1.4).
    input: Literal["prompt", "quoted"] = "prompt"
    # sentencepiece: T5/UL2 (.model file); byte: ByT5 (UTF-8 bytes + 3, no file); clip_bpe: CLIP's byte-level BPE
    # (a directory with vocab.json and merges.txt).
    tokenizer: Literal["sentencepiece", "byte", "clip_bpe"] = "sentencepiece"
    # When a sentencepiece tokenizer is trained here: unigram is T5's; on a tiny caption corpus unigram keeps only ~85
    # character-level pieces, while BPE learns whole words, so the demo uses BPE.
    tokenizer_model: Literal["unigram", "bpe"] = "unigram"
    tokenizer_path: str = ""  # sentencepiece: empty trains one on the data's captions and saves it in the workdir
    # Hugging Face weights in safetensors (a file, a directory, or a sharded index), loaded when the model is built.
    checkpoint: str = ""
    trainable: bool = False  # paper: frozen. The CPU demo trains its tiny encoder jointly (no pretrained weights).
    # Paper Fig. 8: UL2 under FSDP, ByT5 and MetaCLIP replicated (the presets set this per family).
    sharding: Literal["fsdp", "replicated"] = "fsdp"


@dataclasses.dataclass(frozen=True)
class VisionEncoderConfig:
    """A CLIP vision tower (PT2V's reference-image encoder, initialised from long-prompt MetaCLIP; paper §5). The
    defaults are ViT-bigG/14 at 224 px, the vision half of MetaCLIP 2.5B (paper silent on the size)."""

    image_size: int = 224
    patch_size: int = 14
    width: int = 1664
    num_layers: int = 48
    num_heads: int = 16
    ffn_width: int = 8192
    activation: Literal["gelu", "quick_gelu"] = "quick_gelu"  # MetaCLIP trains with QuickGELU
    norm_eps: float = 1e-5
    projection_dim: int = 1280  # pooled-output projection (0: none)
    checkpoint: str = ""


@dataclasses.dataclass(frozen=True)
class TextConfig:
    encoders: tuple[TextEncoderConfig, ...] = (TextEncoderConfig(),)
    drop_prob: float = 0.1  # text dropped (empty prompt) in training, for classifier-free guidance; paper silent
    # Frozen encoders' outputs come precomputed in the latent records (`python -m mgjax.data.latent_records --text`);
    # training then never builds those encoders, and sampling runs them outside the model (models/text/embedder.py).
    precomputed: bool = False


@dataclasses.dataclass(frozen=True)
class TAEConfig:
    """The temporal autoencoder (paper §3.1.1): the SD/LDM image autoencoder inflated to 2.5D. The paper gives the
    compression (8x8x8), 16 channels, replicate padding, strided temporal downsampling and nearest + conv upsampling;
    widths and depth are not given, so the defaults are the SD VAE's (128 x (1, 2, 4, 4), 2 res blocks, attention in
    the middle block), with temporal downsampling at the first three levels (as the MindSpore reproduction)."""

    base_channels: int = 128
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)  # one level per entry; each level but the last halves h and w
    num_res_blocks: int = 2
    temporal_downsample: tuple[bool, ...] = (True, True, True)  # per downsampling level: also halve t
    latent_channels: int = 16
    mid_attention: bool = True  # spatial + temporal attention in the middle blocks
    num_groups: int = 32
    temporal_kernel: int = 3
    # Temporal convs start as the identity (centre tap 1) and temporal attention outputs start at zero, so an image
    # autoencoder's weights carry over unchanged (the paper initialises from one).
    temporal_identity_init: bool = True
    dtype: Dtype = "float32"
    param_dtype: Dtype = "float32"
    # Tiled inference (paper §3.1.1): 32-frame encoder tiles without overlap; 32-frame decoder tiles overlapping by 16
    # frames, blended linearly. Spatial tiles (0 = off) overlap by `spatial_overlap` pixels, blended linearly.
    encode_tile_frames: int = 32
    decode_tile_frames: int = 32
    decode_tile_overlap: int = 16
    spatial_tile: int = 0
    spatial_overlap: int = 64


@dataclasses.dataclass(frozen=True)
class CodecConfig:
    """Pixels <-> latents. `space_to_depth` is lossless and parameter-free (latent channels = 3 x prod(factors));
    `tae` is the paper's temporal autoencoder (8x8x8, 16 channels), built in its own issue."""

    kind: Literal["space_to_depth", "tae"] = "tae"
    factors: tuple[int, int, int] = (8, 8, 8)  # (t, h, w) compression; for the TAE it must match `tae`
    latent_channels: int = 16  # used by the TAE; space_to_depth derives its own
    pixel_channels: int = 3
    tae: TAEConfig = TAEConfig()
    # A trained TAE run directory (its latest checkpoint and its latent_stats.json); "" builds an untrained TAE,
    # which only abstract uses (shapes, inspect, AOT) should do.
    checkpoint: str = ""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Clip size and batching. Defaults: the paper's 768 px stage, 16 s at 16 fps (256 frames)."""

    # "moving_shapes": procedural clips, encoded by the codec inside the train step. "latents": precomputed latents
    # and captions (`python -m mgjax.data.latent_records`), as the paper caches TAE latents.
    # "video_folder": real videos and images under `root` (mgjax/data/video_pipeline.py), bucketed by aspect ratio
    # and duration. "tfds": the same packed into a TFDS array_record dataset (`python -m mgjax.data.tfds_videos`;
    # root = the built dataset's directory).
    source: Literal["moving_shapes", "latents", "video_folder", "tfds"] = "moving_shapes"
    latents_path: str = ""
    root: str = ""  # video_folder: the data root
    manifest: str = ""  # video_folder: a JSONL manifest (relative to root); empty: a .txt caption beside each file
    # (height, width) per aspect bucket: the paper's 5 at 768 px (16:9, 9:16, 1:1, 4:3, 3:4; sides divisible by 16)
    aspect_sizes: tuple[tuple[int, int], ...] = ((576, 1024), (1024, 576), (768, 768), (672, 896), (896, 672))
    # (frames, min seconds, max seconds) per duration bucket (v1 Table 2): fps = frames / clip seconds, 16-32
    duration_buckets: tuple[tuple[int, float, float], ...] = ((256, 10.67, 16.0), (192, 8.0, 10.67), (128, 4.0, 8.0))
    token_budget: int = 0  # video_folder: >0 sizes each bucket's batch to this many backbone tokens; 0: batch_size
    # "native": sample at the video's FPS clamped to [fps_floor, fps_cap] (paper pre-training: original FPS, floor 16);
    # "bucket": spread a bucket's frames over the longest clip the video allows
    fps_mode: Literal["native", "bucket"] = "native"
    fps_floor: float = 16.0
    fps_cap: float = 32.0
    max_bad_samples: int = 100  # video_folder: unique unreadable files tolerated before the run stops
    num_frames: int = 256
    height: int = 768
    width: int = 768
    fps: int = 16  # written into the caption as the "FPS-N" prefix when fps_prefix is on
    fps_prefix: bool = True
    batch_size: int = 512  # global batch (paper: 1536 -> 512 at 768 px)
    image_every: int = 0  # 0: videos only; k: every k-th batch holds one-frame images (paper mixes 1:10)
    two_object_prob: float = 0.3
    textured_prob: float = 0.5
    # Moving Shapes: a moving object's first-frame centre is uniform over this central fraction of the range that keeps
    # it in frame (1: all of it; a pair narrows into slots set by the caption's order); smaller makes each frame's
    # layout more predictable from the caption's direction
    start_spread: float = 1.0
    # Moving Shapes: background grey levels are uniform over this central fraction of their ranges (1: all of it); a
    # clip's level is about half of the variance its caption does not explain, noise to what the caption does say
    background_level_spread: float = 1.0
    seed: int = 0
    num_workers: int = 0


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """Flow matching (paper §3.1.2): t=0 is noise, t=1 is data."""

    sigma_min: float = 1e-5
    # What the network outputs; the loss is the velocity MSE either way. "velocity" is the paper's. "data" predicts X_1
    # and converts it to a velocity: a network must copy the noise to predict a velocity, which it cannot do when a
    # token carries more values than the model width (pixel-space patches: 192 values per token in the CPU demo), as
    # JiT (Li & He 2025) showed; predicting the data sidesteps that.
    prediction: Literal["velocity", "data"] = "velocity"
    t_sampling: Literal["logit_normal", "uniform"] = "logit_normal"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    # Not in the paper: this fraction of training t comes from a second logit-normal near noise (t ~ 0.02), where the
    # only information is the prompt. What the prompt says about *where* things are (motion direction) is a weak,
    # slowly learned signal there; the main component seldom samples it (CPU demo, README).
    near_noise_prob: float = 0.0
    near_noise_logit_mean: float = -4.0
    near_noise_logit_std: float = 0.5


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    """Inference (paper §3.4): Euler, 50 steps, linear-quadratic schedule, CFG 7.5."""

    num_steps: int = 50
    schedule: Literal["linear_quadratic", "linear"] = "linear_quadratic"
    linear_steps: int = 25  # steps taken from the linear schedule before the quadratic part
    linear_reference_steps: int = 250  # N of the linear schedule whose first steps are reused
    cfg_scale: float = 7.5
    seed: int = 0
    batch_size: int = 16


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
    # so `learning_rate` means the same for both. The paper names no optimizer for the TAE; configs/tae_shapes.py
    # uses Muon (twice AdamW's progress a step there, README).
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


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """The Moving Shapes evaluator: held-out captions sampled and scored from the pixels."""

    num_samples: int = 64
    num_videos_to_write: int = 4


@dataclasses.dataclass(frozen=True)
class TAELossConfig:
    """TAE training (paper §3.1.1: the usual VAE losses plus the outlier penalty). The paper gives OPL r = 3 and weight
    1e5 as a fine-tuning phase (50k steps without, then 10k with) and the 1 image : 3 video batch mix; the other
    weights are the LDM autoencoder's (KL 1e-6, discriminator 0.5 with an adaptive weight, hinge loss)."""

    l1_weight: float = 1.0
    l2_weight: float = 0.0
    kl_weight: float = 1e-6
    perceptual_weight: float = 0.0  # LPIPS-style; needs perceptual_weights (nothing is downloaded)
    perceptual_weights: str = ""  # .npz of VGG16 + LPIPS linear weights (`python -m mgjax.tools.convert lpips ...`)
    # (The 1 image : 3 video batch mix is data.image_every = 4 in the TAE configs.)
    disc_weight: float = 0.5
    disc_start: int = 50001  # generator steps before the adversarial loss switches on
    disc_channels: int = 64
    disc_layers: int = 3
    disc_learning_rate: float = 0.0  # 0: the generator's learning rate
    adaptive_disc_weight: bool = True
    opl_weight: float = 1e5
    opl_r: float = 3.0
    opl_start: int = 50000  # OPL is a fine-tuning phase from this step on
    sample_posterior: bool = True  # decode a sample of q(z|x) in training (False: its mean)
    # Train on random square crops of this many pixels (0: whole frames). The TAE is convolutional, so crops cut the
    # cost per sample (as image autoencoders train on crops) and evaluation still runs on whole frames.
    train_crop: int = 0


@dataclasses.dataclass(frozen=True)
class Config:
    name: str = "moviegen_video_30b"
    task: Literal["t2v", "tae"] = "t2v"
    model: VideoModelConfig = VideoModelConfig()
    text: TextConfig = TextConfig()
    codec: CodecConfig = CodecConfig()
    data: DataConfig = DataConfig()
    flow: FlowConfig = FlowConfig()
    sample: SampleConfig = SampleConfig()
    optim: OptimConfig = OptimConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    mesh: MeshConfig = MeshConfig()
    tae_loss: TAELossConfig = TAELossConfig()
