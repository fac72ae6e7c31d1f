"""Movie Gen Video 30B at the 768 px stage (paper §3, v1 Table 1; spec §2 and §12).

48 layers, width 6144, FFN 16384, 48 heads (head dim 128), patch (1, 2, 2) over 16 TAE channels; 768x768, 16 s at
16 fps = 256 frames -> 32 x 96 x 96 latents -> 73,728 tokens. Text: UL2 + ByT5 + long-prompt MetaCLIP, frozen,
projected to 6144 and concatenated (sizes: mgjax/config/text.py). LR 6e-5 at this stage, CFG 7.5, 50 Euler steps on
the linear-quadratic schedule. Point each encoder's `checkpoint` and `tokenizer_path` at real weights to use them.

Checked abstractly, never allocated on CPU: `python -m mgjax inspect --config configs/moviegen_video_30b.py`;
`python -m mgjax aot --config configs/moviegen_video_30b.py --topology v5p-512`.
"""

from mgjax.config import (CodecConfig, Config, DataConfig, MeshConfig, OptimConfig, SampleConfig, TextConfig,
                          text_encoder, video_model)


def get_config() -> Config:
    return Config(
        name="moviegen_video_30b",
        model=video_model("30B", patch_size=(1, 2, 2), in_channels=16, max_patches=(32, 64, 64), dtype="bfloat16",
                          remat="full"),
        text=TextConfig(encoders=(
            text_encoder("ul2"),  # UL2 20B's encoder, FSDP-sharded; 300 tokens (MindSpore's choice)
            text_encoder("byt5_small"),  # on the prompt's quoted spans only; 100 bytes
            text_encoder("metaclip_bigg14", max_length=256),  # long-prompt MetaCLIP: 256 positions
        ), drop_prob=0.1),
        codec=CodecConfig(kind="tae", factors=(8, 8, 8), latent_channels=16),
        data=DataConfig(num_frames=256, height=768, width=768, fps=16, fps_prefix=True, batch_size=512),
        sample=SampleConfig(num_steps=50, schedule="linear_quadratic", linear_steps=25, linear_reference_steps=250,
                            cfg_scale=7.5),
        optim=OptimConfig(learning_rate=6e-5, warmup_steps=1000, decay="constant"),
        mesh=MeshConfig(data=1, fsdp=-1, tensor=4, context=2),
    )
