"""Movie Gen Audio's DAC-VAE at the paper's size (§6): 48 kHz mono -> 25 latent frames/s x 128 channels (hop 1920).

`python -m mgjax inspect --config configs/dac_vae_48k.py` reports its parameters and latent rate; it is not meant for
CPU training. Layers and strides: mgjax/config/audio.py and docs/audio.md; losses: DAC's base.yml (mel 15, feature
matching 2, adversarial 1) plus the KL term.
"""

from mgjax.config import Config, DataConfig, OptimConfig, TrainConfig
from mgjax.config.audio import DACVAEConfig, DACVAELossConfig
from mgjax.config.data import AudioDataConfig


def get_config() -> Config:
    return Config(
        name="dac_vae_48k",
        task="dac_vae",
        model=DACVAEConfig(),
        loss=DACVAELossConfig(),
        # DAC's base.yml: 72 clips of 0.38 s; 0.4 s here, the nearest whole number of hops (10 x 1920 samples).
        data=DataConfig(source="procedural_audio", batch_size=72, audio=AudioDataConfig(seconds=0.4)),
        # DAC's: AdamW 1e-4, betas (0.8, 0.99), torch's weight decay 0.01, generator gradients clipped at 1e3.
        optim=OptimConfig(learning_rate=1e-4, b1=0.8, b2=0.99, warmup_steps=0, grad_clip=1000.0),
        train=TrainConfig(steps=400_000),
    )
