"""Training data: where clips come from, their size, and how they are batched."""

from __future__ import annotations

import dataclasses
from typing import Literal

from mgjax.config.codec import CodecConfig
from mgjax.config.degradation import DegradationConfig


@dataclasses.dataclass(frozen=True)
class MovingShapesConfig:
    """The built-in procedural data (mgjax/data/moving_shapes.py): coloured shapes moving over grey backgrounds."""

    two_object_prob: float = 0.3  # clips with two objects
    textured_prob: float = 0.5  # backgrounds with a texture (stripes, checks, grain) instead of plain grey
    # A moving object's first-frame centre is uniform over this central fraction of the range that keeps it in frame
    # (1: all of it; a two-object scene narrows both objects into slots set by the caption's order).
    start_spread: float = 1.0
    # Background grey levels are uniform over this central fraction of their ranges (1: all of it).
    background_level_spread: float = 1.0


@dataclasses.dataclass(frozen=True)
class NaturalClipsConfig:
    """Natural content for the tiny TAEs (mgjax/data/natural_clips.py): Moving Shapes (as `shapes` configures them),
    1/f-noise textures and real photos (scikit-image's samples, three held out) under a moving camera, mixed by
    weight."""

    shapes_weight: float = 0.2
    procedural_weight: float = 0.35
    photo_weight: float = 0.45
    static_prob: float = 0.15  # clips whose camera holds still
    max_speed: float = 3.0  # fastest pan, in output pixels per frame (speeds below it are skewed slow)


AUDIO_SOURCES = ("procedural_audio", "audio_folder")


@dataclasses.dataclass(frozen=True)
class AudioDataConfig:
    """Audio clips for the audio codec, at the codec's sample rate: `data.source=procedural_audio`
    (mgjax/data/procedural_audio.py) or `audio_folder` (audio files and video files' audio tracks under data.root:
    mgjax/data/audio_files.py)."""

    seconds: float = 1.0  # per training clip; its samples must be a multiple of the codec's hop
    loudness_dbfs: float = -20.0  # audio_folder: each crop's RMS level (the procedural set spans -28..-14)


@dataclasses.dataclass(frozen=True)
class EditDataConfig:
    """Movie Gen Edit's training data (paper §5.2; mgjax/data/shape_edits.py): Moving Shapes scenes rendered before
    and after an instruction, by stage, mixed with text-to-video batches."""

    # 1: image edits (one-frame videos); 2: animated image edits (one random affine path on input and output) and
    # instruction-guided segmentation of videos; 3: backtranslation (`backtranslated` records)
    stage: int = 1
    edit_every: int = 5  # edit batches per text-to-video batch (paper: image-edit batches 5x as often)
    segment_prob: float = 0.3  # stage II: share of segmentation samples among the edit samples (paper silent)
    # Stage II: share of animated pairs whose camera stays still (paper silent: its random affine paths always move).
    # A clip to edit often has a still backdrop; pairs that all pan teach the model to move it (docs/edit.md).
    still_camera_prob: float = 0.25
    source_drop_prob: float = 0.1  # input video replaced by black, so sampling can guide on it (paper silent)
    random_image_position: bool = True  # image edits take a random temporal position embedding (paper §5.2)
    two_object_prob: float = 0.5  # scenes with two objects (one of them is edited)
    backtranslated: str = ""  # stage III: the .npz written by `python -m mgjax edit-backtranslate`


@dataclasses.dataclass(frozen=True)
class PT2VDataConfig:
    """Personalized video's training data (paper §4.2; mgjax/data/characters.py): Characters clips with a reference
    image of the same identity, masked onto flat grey."""

    # The share of samples whose reference is cross-paired (the same identity still, centred, in another pose and
    # lighting); the rest are paired (a masked frame of the clip itself). Paper: stages I-II paired, III cross-paired.
    cross_pair_prob: float = 0.0
    reference_drop_prob: float = 0.1  # references masked out of the context, so sampling can guide on them (silent)


@dataclasses.dataclass(frozen=True)
class UpsampleDataConfig:
    """The spatial upsampler's pairs (paper §3.1.7; mgjax/data/upsample_pairs.py): natural-content clips
    (`data.natural`, Moving Shapes as `data.shapes` draws them) at the output resolution, and their degraded
    low-resolution inputs."""

    degradation: DegradationConfig = DegradationConfig()
    # "TAE-like artifacts" (paper): this share of each batch (round(tae_prob x batch) samples) has its low-resolution
    # input go through `tae` (a trained TAE, encode + decode) after the degradations, as a generated video's frames
    # have. Paper silent on the rate.
    tae_prob: float = 0.3
    tae: CodecConfig = CodecConfig(checkpoint="")  # kind "tae" with its checkpoint; "" with tae_prob 0: none
    # Training clips shorter than the sampling window take a random first row of the temporal position table, so
    # every row a window uses is trained (as Edit's image edits, §5.2).
    random_position: bool = True


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Clip size and batching. Defaults: the paper's 768 px stage, 16 s at 16 fps (256 frames)."""

    # "moving_shapes": procedural clips, encoded by the codec inside the train step. "natural_clips": Moving Shapes,
    # textures and real photos under a moving camera, without captions (TAE training). "latents": precomputed latents
    # and captions (`python -m mgjax precompute`), as the paper caches TAE latents. "video_folder": real videos and
    # images under `root` (mgjax/data/video_pipeline.py), bucketed by aspect ratio and duration. "tfds": the same
    # packed into a TFDS array_record dataset (`python -m mgjax tfds`; root = the built dataset's directory).
    # "procedural_audio": tones, notes, sweeps, clicks and noise for the audio codec (`audio` sizes them);
    # "audio_folder": audio files and video files' audio tracks under `root` for it.
    source: Literal["moving_shapes", "natural_clips", "latents", "video_folder", "tfds",
                    "procedural_audio", "audio_folder"] = "moving_shapes"
    latents_path: str = ""
    root: str = ""  # video_folder: the data root
    manifest: str = ""  # video_folder: a JSONL manifest (relative to root); empty: a .txt caption beside each file
    # (height, width) per aspect bucket: the paper's 5 at 768 px (16:9, 9:16, 1:1, 4:3, 3:4; sides divisible by 16)
    aspect_sizes: tuple[tuple[int, int], ...] = ((576, 1024), (1024, 576), (768, 768), (672, 896), (896, 672))
    # (frames, min seconds, max seconds) per duration bucket (v1 Table 2): fps = frames / clip seconds, 16-32
    duration_buckets: tuple[tuple[int, float, float], ...] = ((256, 10.67, 16.0), (192, 8.0, 10.67), (128, 4.0, 8.0))
    token_budget: int = 0  # video_folder: >0 sizes each bucket's batch to this many backbone tokens; 0: batch_size
    # "native": sample at the video's FPS clamped to [fps_floor, fps_cap] (paper pre-training: original FPS, floor 16);
    # "bucket": spread a bucket's frames over the longest clip the video allows
    fps_mode: Literal["native", "bucket"] = "native"
    fps_floor: float = 16.0
    fps_cap: float = 32.0
    max_bad_samples: int = 100  # video_folder, audio_folder: unique unreadable files tolerated before the run stops
    num_frames: int = 256
    height: int = 768
    width: int = 768
    fps: int = 16  # written into the caption as the "FPS-N" prefix when fps_prefix is on
    fps_prefix: bool = True
    batch_size: int = 512  # global batch (paper: 1536 -> 512 at 768 px)
    image_every: int = 0  # 0: videos only; k: every k-th batch holds one-frame images (paper mixes 1:10)
    shapes: MovingShapesConfig = MovingShapesConfig()
    natural: NaturalClipsConfig = NaturalClipsConfig()
    audio: AudioDataConfig = AudioDataConfig()
    edit: EditDataConfig = EditDataConfig()
    upsample: UpsampleDataConfig = UpsampleDataConfig()
    pt2v: PT2VDataConfig = PT2VDataConfig()
    seed: int = 0
    num_workers: int = 0
