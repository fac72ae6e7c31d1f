"""The temporal autoencoder (paper §3.1.1): its architecture and its training losses."""

from __future__ import annotations

import dataclasses

from mgjax.config.video import Dtype


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
    # False: no temporal attention (with temporal_kernel 1 and no temporal downsampling the model is frame-wise: the
    # spatial upsampler's image VAE, codec kind `image_vae`)
    temporal_attention: bool = True
    num_groups: int = 32
    temporal_kernel: int = 3
    # Temporal convs start as the identity (centre tap 1) and temporal attention outputs start at zero, so an image
    # autoencoder's weights carry over unchanged (the paper initialises from one).
    temporal_identity_init: bool = True
    dtype: Dtype = "float32"
    param_dtype: Dtype = "float32"
    # Tiled inference (paper §3.1.1): 32-frame encoder tiles without overlap; 32-frame decoder tiles overlapping by 16
    # frames, blended linearly. Spatial tiles (0 = off) overlap by `spatial_overlap` pixels, blended linearly. With
    # `spatial_frame_norm`, passes over the tiles first gather each GroupNorm's frame-wide statistics and each spatial
    # attention's frame-wide keys, so tiles match the untiled model (False: per-tile statistics, cheaper but seaming;
    # cost and agreement of both: docs/tae.md).
    encode_tile_frames: int = 32
    decode_tile_frames: int = 32
    decode_tile_overlap: int = 16
    spatial_tile: int = 0
    spatial_overlap: int = 64
    spatial_frame_norm: bool = True


@dataclasses.dataclass(frozen=True)
class TAELossConfig:
    """TAE training (paper §3.1.1: the usual VAE losses plus the outlier penalty). The paper gives OPL r = 3 and weight
    1e5 as a fine-tuning phase (50k steps without, then 10k with) and the 1 image : 3 video batch mix; the other
    weights are the LDM autoencoder's (KL 1e-6, discriminator 0.5 with an adaptive weight, hinge loss)."""

    l1_weight: float = 1.0
    l2_weight: float = 0.0
    kl_weight: float = 1e-6
    perceptual_weight: float = 0.0  # LPIPS-style; needs perceptual_weights (nothing is downloaded)
    perceptual_weights: str = ""  # .npz of VGG16 + LPIPS linear weights (mgjax/models/tae/perceptual.py)
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
