"""A tiny TAE for CPU: 4x compression in t, h and w, 16 latent channels, trained on Moving Shapes.

The paper's 2.5D architecture (`tae_paper.py`) with two downsampling levels instead of three and narrow widths;
images and videos mix 1:3; tiles keep the paper's shape in latent frames (4 per tile, decoder tiles overlapping by 2).
The outlier penalty is the last 500 of 4,000 steps (the paper's 50k + 10k phasing, shortened); the discriminator is
off. How the loss, batch size and optimizer were chosen: docs/tae_training.md.

Trained in ~19 minutes on 2 CPU cores (held-out 31.2 dB video, 31.1 dB images):
`python train.py --config configs/tae_shapes.py --workdir runs/tae_shapes`, then
`python -m mgjax eval --config configs/tae_shapes.py --workdir runs/tae_shapes`.
"""

from mgjax.config import Config, DataConfig, OptimConfig, TAEConfig, TAELossConfig, TrainConfig


def get_config() -> Config:
    return Config(
        name="tae_shapes",
        task="tae",
        model=TAEConfig(base_channels=16, channel_mult=(1, 2, 2), num_res_blocks=1, temporal_downsample=(True, True),
                        num_groups=8, encode_tile_frames=16, decode_tile_frames=16, decode_tile_overlap=8),
        loss=TAELossConfig(l1_weight=0.0, l2_weight=1.0, kl_weight=1e-6, disc_weight=0.0, disc_start=3800,
                           opl_start=3500),
        data=DataConfig(num_frames=8, height=32, width=32, fps=8, fps_prefix=False, batch_size=4, image_every=4),
        optim=OptimConfig(optimizer="muon", learning_rate=2e-3, warmup_steps=100, decay="cosine", b2=0.99,
                          weight_decay=0.0, grad_clip=1.0, ema_decay=0.0),
        train=TrainConfig(steps=4000, log_every=100, checkpoint_every=1600),
    )
