"""The CPU demo: a tiny Movie Gen Video transformer trained on Moving Shapes in about 10 minutes on 2 cores.

The 30B model's architecture (patchify (1, 2, 2), factorized PE at every layer, adaLN-single, cross-attention, SwiGLU,
flow matching, linear-quadratic Euler sampling with CFG) at the "tiny" size (4 layers of width 128) on 4-frame 32x32
clips, in pixel space through the space-to-depth codec (4x4 blocks -> 48 channels), with a tiny T5 trained jointly on
a BPE tokenizer of the training captions. Why each setting differs from the paper's: docs/moving_shapes_t2v.md.

`python train.py --config configs/shapes_t2v_tiny.py --workdir runs/shapes_t2v_tiny` (`make demo` runs it, evaluates
and samples).
"""

from mgjax.config import (CodecConfig, Config, DataConfig, EvalConfig, FlowConfig, MovingShapesConfig, OptimConfig,
                          SampleConfig, TextConfig, TextEncoderConfig, TrainConfig, video_model)


def get_config() -> Config:
    return Config(
        name="shapes_t2v_tiny",
        model=video_model("tiny", patch_size=(1, 2, 2), in_channels=48, max_patches=(8, 4, 4), dtype="float32",
                          remat="none", qk_norm=True, pos_embed_init_scale=2.0),
        text=TextConfig(encoders=(TextEncoderConfig(name="ul2", vocab_size=256, width=64, num_layers=2, num_heads=4,
                                                    head_dim=16, ffn_width=128, max_length=32, trainable=True,
                                                    tokenizer_model="bpe", relative_bias_locality=1.0),),
                        drop_prob=0.1),
        codec=CodecConfig(kind="space_to_depth", factors=(1, 4, 4)),
        flow=FlowConfig(prediction="data", logit_mean=-0.8, near_noise_prob=0.5),
        data=DataConfig(num_frames=4, height=32, width=32, fps=8, fps_prefix=False, batch_size=16,
                        shapes=MovingShapesConfig(start_spread=0.25, background_level_spread=0.0)),
        sample=SampleConfig(num_steps=50, cfg_scale=4.0, batch_size=32),
        optim=OptimConfig(learning_rate=1e-3, warmup_steps=100, decay="cosine", weight_decay=0.0, ema_decay=0.995),
        train=TrainConfig(steps=3600, log_every=100, checkpoint_every=600),
        eval=EvalConfig(num_samples=64),
    )
