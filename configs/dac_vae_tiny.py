"""A tiny DAC-VAE for CPU: 16 kHz, hop 640, so still 25 latent frames/s, 16 channels, on procedural audio.

`python train.py --config configs/dac_vae_tiny.py --workdir runs/dac_vae_tiny` (~18 min on 2 CPU cores), then
`python -m mgjax eval --config configs/dac_vae_tiny.py --workdir runs/dac_vae_tiny` and
`python -m mgjax export --config configs/dac_vae_tiny.py --workdir runs/dac_vae_tiny --out assets/dac_vae_tiny`.

The generator's losses only (DAC's multi-scale mel, weight 15, and the KL): within a 20-minute CPU budget the
adversarial phase costs 3x a step and did not help (docs/audio.md: a run switching it on for the last 400 of 2,400
steps ended with a worse mel distance and the same SI-SDR). `loss.disc_start` below `train.steps` switches it on;
the discriminators here are narrowed for CPU (DAC's widths are the loss config's defaults).
"""

from mgjax.config import Config, DataConfig, OptimConfig, TrainConfig
from mgjax.config.audio import DACVAEConfig, DACVAELossConfig
from mgjax.config.data import AudioDataConfig

STEPS = 3200


def get_config() -> Config:
    return Config(
        name="dac_vae_tiny",
        task="dac_vae",
        model=DACVAEConfig(sample_rate=16_000, encoder_dim=8, strides=(2, 4, 8, 10), decoder_dim=128,
                           latent_channels=16),
        loss=DACVAELossConfig(disc_start=STEPS, periods=(2, 3, 5), fft_sizes=(1024, 512),
                              period_widths=(16, 32, 64, 128, 128), stft_channels=16),
        data=DataConfig(source="procedural_audio", batch_size=8, audio=AudioDataConfig(seconds=0.4)),
        optim=OptimConfig(learning_rate=1e-3, b1=0.8, b2=0.99, warmup_steps=50, decay="cosine"),
        train=TrainConfig(steps=STEPS, log_every=100, checkpoint_every=800),
    )
