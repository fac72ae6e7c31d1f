"""A tiny CLIP (`task="clip"`): the CLIP text tower and vision tower trained contrastively on 32x32 Moving Shapes
stills and their captions, from scratch, on a BPE tokenizer of the captions. It is PT2V's reference-image encoder's
starting point (paper §4 starts from long-prompt MetaCLIP) and the learned evaluator other systems load
(`mgjax.checkpoint.restore.load_clip`). Zero-shot retrieval on held-out stills: `python -m mgjax eval`.

`python train.py --config configs/shapes_clip_tiny.py --workdir runs/shapes_clip_tiny`
"""

from mgjax.config import (Config, DataConfig, EvalConfig, MovingShapesConfig, OptimConfig, TextEncoderConfig,
                          TrainConfig, VisionEncoderConfig)
from mgjax.config.clip import CLIPModelConfig


def get_config() -> Config:
    text = TextEncoderConfig(name="clip_text", kind="clip", vocab_size=256, width=128, num_layers=2, num_heads=4,
                             head_dim=32, ffn_width=512, activation="gelu", norm_eps=1e-5, max_length=32,
                             projection_dim=64, tokenizer_model="bpe", trainable=True, sharding="replicated")
    vision = VisionEncoderConfig(image_size=32, patch_size=8, width=128, num_layers=4, num_heads=4, ffn_width=512,
                                 activation="gelu", projection_dim=64)
    return Config(
        name="shapes_clip_tiny",
        task="clip",
        model=CLIPModelConfig(text=text, vision=vision),
        data=DataConfig(num_frames=1, height=32, width=32, fps_prefix=False, batch_size=128,
                        shapes=MovingShapesConfig()),
        optim=OptimConfig(learning_rate=1e-3, warmup_steps=100, decay="cosine", weight_decay=0.1),
        train=TrainConfig(steps=2000, log_every=100, checkpoint_every=500),
        eval=EvalConfig(num_samples=512),
    )
