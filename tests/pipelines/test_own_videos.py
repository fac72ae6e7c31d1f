"""The README's "Your own videos" path end to end on a folder of generated mp4s, through the command line: a TAE
trained on the folder, its latent statistics, the folder's latents precomputed, text-to-video trained on them and
sampled from the run's directory alone. Short runs: the path is what is tested (learning is tested per model)."""

import json
import pathlib

import av
import jax
import numpy as np

from conftest import CONFIGS
from mgjax.commands import dispatch
from mgjax.pipelines.video_io import read_mp4

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (40, 60, 220), "yellow": (230, 210, 40)}
MOVES = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def write_clips(root: pathlib.Path, num: int) -> None:
    """`num` 1.5 s landscape clips (48x64 at 12 fps) of a coloured square moving, each with its caption file."""
    root.mkdir(parents=True)
    for i in range(num):
        colour, move = list(COLOURS)[i % 4], list(MOVES)[i // 4 % 4]
        (dx, dy), rgb = MOVES[move], COLOURS[colour]
        with av.open(str(root / f"clip{i}.mp4"), mode="w") as f:
            stream = f.add_stream("libx264", rate=12)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for k in range(18):
                frame = np.full((48, 64, 3), 110, np.uint8)
                x, y = 32 + dx * (k - 9) * 2, 24 + dy * (k - 9) * 2
                frame[y - 6:y + 6, x - 6:x + 6] = rgb
                f.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            f.mux(stream.encode())
        (root / f"clip{i}.txt").write_text(f"a {colour} square moving {move}")


def test_raw_videos_to_tae_to_latents_to_text_to_video(tmp_path, caplog, monkeypatch):
    root, tae, latents, t2v = (tmp_path / n for n in ("videos", "tae", "latents", "t2v"))
    write_clips(root, 8)
    (root / "nocaption.mp4").write_bytes((root / "clip0.mp4").read_bytes())  # left out, with a warning
    every_device = jax.devices
    monkeypatch.setattr(jax, "devices", lambda *a: every_device(*a)[:1])  # a user's CPU is one device, not the 8 here
    assert dispatch(["train", "--config", str(CONFIGS / "folder_tae_tiny.py"), "--set", f"data.root={root}",
                     "--set", "train.steps=10", "--set", "train.log_every=5", "--workdir", str(tae)]) == 0
    assert "1 of 9 files" in caplog.text and "no caption" in caplog.text
    assert dispatch(["eval", "--workdir", str(tae), "--num", "8"]) == 0  # the config comes from the run
    stats = json.loads((tae / "latent_stats.json").read_text())
    assert len(stats["shift"]) == 16 and stats["clips"] == 8
    assert dispatch(["precompute", "--config", str(CONFIGS / "folder_t2v_tiny.py"), "--set", "data.source=video_folder",
                     "--set", f"data.root={root}", "--set", f"codec.checkpoint={tae}",
                     "--out", str(latents)]) == 0
    meta = json.loads((latents / "meta.json").read_text())
    assert meta["records"] == 8 and meta["latent_shapes"] == [[2, 8, 12, 16]]  # 8 frames of 32x48, 4x4x4 TAE
    assert dispatch(["train", "--config", str(CONFIGS / "folder_t2v_tiny.py"), "--set", f"codec.checkpoint={tae}",
                     "--set", f"data.latents_path={latents}", "--set", "train.steps=4", "--set", "train.log_every=2",
                     "--workdir", str(t2v)]) == 0
    assert dispatch(["sample", "--workdir", str(t2v), "--prompt", "a red square moving left", "--steps", "2",
                     "--set", "data.height=32", "--set", "data.width=48", "--out", f"{tmp_path}/out/"]) == 0
    (video,) = (tmp_path / "out").glob("*.mp4")
    assert read_mp4(video).shape == (8, 128, 192, 3)  # 8 frames of 32x48, shown at 4x
