"""The paper's TAE (§3.1.1): 8x compression in t, h and w, 16 latent channels, 2.5D SD-VAE layout.

Widths and depth are the SD VAE's (the paper initialises from an image autoencoder but names none); losses are the LDM
autoencoder's plus the outlier penalty (r = 3, weight 1e5) as a fine-tuning phase: 50k steps without, 10k with.
Check it abstractly: `python -m mgjax inspect --config configs/tae_paper.py`.
"""

from mgjax.config import Config, DataConfig, OptimConfig, TAEConfig, TAELossConfig, TrainConfig


def get_config() -> Config:
    return Config(
        name="tae_paper",
        task="tae",
        model=TAEConfig(),
        loss=TAELossConfig(disc_start=50001, opl_start=50000),
        data=DataConfig(num_frames=32, height=256, width=256, fps_prefix=False, batch_size=64, image_every=4),
        optim=OptimConfig(learning_rate=1e-4, warmup_steps=1000, b2=0.999, weight_decay=0.0, grad_clip=1.0),
        train=TrainConfig(steps=60000, log_every=100, checkpoint_every=2000),
    )
