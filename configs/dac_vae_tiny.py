"""A tiny DAC-VAE for CPU: 16 kHz, hop 640, so still 25 latent frames/s, 16 channels, on procedural audio.

`python train.py --config configs/dac_vae_tiny.py --workdir runs/dac_vae_tiny`. Provisional settings (issue 28: the
trained figures and baselines come with the evaluation); the discriminators switch on at `loss.disc_start`.
"""

from mgjax.config import Config, DataConfig, OptimConfig, TrainConfig
from mgjax.config.audio import DACVAEConfig, DACVAELossConfig
from mgjax.config.data import AudioDataConfig


def get_config() -> Config:
    return Config(
        name="dac_vae_tiny",
        task="dac_vae",
        model=DACVAEConfig(sample_rate=16_000, encoder_dim=8, strides=(2, 4, 8, 10), decoder_dim=128,
                           latent_channels=16),
        loss=DACVAELossConfig(disc_start=100_000, periods=(2, 3, 5), fft_sizes=(1024, 512)),
        data=DataConfig(source="procedural_audio", batch_size=8, audio=AudioDataConfig(seconds=0.4)),
        optim=OptimConfig(learning_rate=1e-3, b1=0.8, b2=0.99, warmup_steps=50, decay="cosine"),
        train=TrainConfig(steps=2000, log_every=50, checkpoint_every=500),
    )
