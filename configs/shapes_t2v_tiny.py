"""The CPU demo: a small Movie Gen Video transformer trained on Moving Shapes in about 10 minutes on 2 cores.

Same architecture as the 30B model (patchify (1,2,2), factorized PE at every layer, adaLN-single, cross-attention,
SwiGLU, flow matching with logit-normal t, linear-quadratic Euler sampling with CFG), scaled down to 4 layers of
width 128 on 4-frame 32x32 clips. The space-to-depth codec folds 4x4 pixel blocks into 48 channels until the TAE
lands, so a token carries 192 pixel values, more than the model width: the network therefore predicts the data and
the velocity is derived from it (`flow.prediction="data"`; the loss is still the velocity MSE). Training t leans
towards noise (logit-normal mean -0.8, as JiT) because a small model is weakest early in sampling, where it must
decide where the objects are; half of the training t comes from a second law right at the noise end
(`flow.near_noise_prob`), where the prompt is all the model has, and the positional tables start 4x larger
(`model.pos_embed_init_scale=2.0`) so a token knows where it is under the noise. The data keeps every shape, colour,
size, speed, texture and one- or two-object scene, but every background sits at the middle grey level
(`data.background_level_spread=0`: the level is half of the variance no caption explains) and moving objects start in
the central quarter of their range (`data.start_spread=0.25`; a pair takes slots by caption order), so what the
caption says about where things go is a strong signal rather than noise (README: how motion direction was learned).
The tiny T5 encoder trains jointly (no pretrained weights exist) on a BPE tokenizer trained on the training captions.
Its relative-position table starts local (`relative_bias_locality=1`, ALiBi's slopes): from T5's near-zero start the
encoder stayed a bag of words (a linear probe on its output at a colour word read that object's own direction no
better than the other object's: 56% vs 57%), so two-object captions could not say which object goes which way.
"""

from mgjax.config import (CodecConfig, Config, DataConfig, EvalConfig, FlowConfig, OptimConfig, SampleConfig,
                          TextConfig, TextEncoderConfig, TrainConfig, VideoModelConfig)


def get_config() -> Config:
    return Config(
        name="shapes_t2v_tiny",
        model=VideoModelConfig(num_layers=4, width=128, ffn_width=384, num_heads=4, patch_size=(1, 2, 2),
                               in_channels=48, max_patches=(8, 4, 4), dtype="float32", remat="none", qk_norm=True,
                               pos_embed_init_scale=2.0),
        text=TextConfig(encoders=(TextEncoderConfig(name="ul2", vocab_size=256, width=64, num_layers=2, num_heads=4,
                                                    head_dim=16, ffn_width=128, max_length=32, trainable=True,
                                                    tokenizer_model="bpe", relative_bias_locality=1.0),),
                        drop_prob=0.1),
        codec=CodecConfig(kind="space_to_depth", factors=(1, 4, 4)),
        flow=FlowConfig(prediction="data", logit_mean=-0.8, near_noise_prob=0.5),
        data=DataConfig(num_frames=4, height=32, width=32, fps=8, fps_prefix=False, batch_size=16,
                        start_spread=0.25, background_level_spread=0.0),
        sample=SampleConfig(num_steps=50, cfg_scale=4.0, batch_size=32),
        optim=OptimConfig(learning_rate=1e-3, warmup_steps=100, decay="cosine", weight_decay=0.0, ema_decay=0.995),
        train=TrainConfig(steps=3600, log_every=100, checkpoint_every=600),
        eval=EvalConfig(num_samples=64),
    )
