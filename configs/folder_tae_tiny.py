"""Your own videos, step 1 of 3: the tiny CPU TAE (`tae_shapes.py`) trained on a folder of videos and images.

Clips are cut at their own FPS (clamped to 8-16) into 8-frame clips and resized into the nearest of three 32-pixel
aspect buckets (square, 3:2, 2:3); a caption file beside each video (`a.mp4` + `a.txt`) or a JSONL manifest
(`data.manifest`) is required because step 3 trains on the same captions. The whole path, raw videos -> TAE -> latent
statistics -> precomputed latents -> text-to-video, is in README.md ("Your own videos").

`python -m mgjax train --config configs/folder_tae_tiny.py --set data.root=DIR --workdir runs/my_tae`
"""

import dataclasses

from configs.tae_shapes import get_config as tae_shapes
from mgjax.config import Config

# Shared with folder_t2v_tiny.py, whose latents must come from the same clips.
ASPECT_SIZES = ((32, 32), (32, 48), (48, 32))
DURATION_BUCKETS = ((8, 0.5, 1.0),)  # 8 frames over 0.5-1 s: 8-16 fps


def folder_data() -> dict:
    """The folder (`data.root`, default ./my_videos) and how its clips are cut."""
    return dict(source="video_folder", root="my_videos", aspect_sizes=ASPECT_SIZES, duration_buckets=DURATION_BUCKETS,
                fps_mode="native", fps_floor=8.0, fps_cap=16.0, fps=8, num_frames=8, height=32, width=32)


def get_config() -> Config:
    base = tae_shapes()
    return dataclasses.replace(
        base,
        name="folder_tae_tiny",
        data=dataclasses.replace(base.data, image_every=0, **folder_data()),
        train=dataclasses.replace(base.train, steps=2000, log_every=50, checkpoint_every=500),
    )
