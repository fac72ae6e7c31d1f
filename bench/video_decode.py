"""Video-folder pipeline throughput: decoded clips per second, per worker count.

`python bench/video_decode.py [--videos 24] [--size 256] [--frames 16] [--workers 0 1 2] [--steps 60] [--batch 4]`

Writes synthetic H.264 clips (moving gradients, 320x256 at 24 fps, 5 s, keyframe every 48 frames) into a temporary
folder, then runs `VideoFolderBatches` with one 256x256 x 16-frame bucket (clips sampled at 16 fps) and reports clips
per second in steady state: the rate between batch 10 and the last (Grain's thread prefetch keeps decoding while the
consumer waits, so timing a few batches after a warm-up would only measure the buffer). workers=0 decodes in the main
process (Grain's reader threads); with workers > 0 each worker process runs the same reader. Results go to
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import tempfile
import time


def write_corpus(root: pathlib.Path, num: int, height: int, width: int, seconds: float, fps: int = 24) -> None:
    import av
    import numpy as np

    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(num):
        with av.open(str(root / f"clip{i:03d}.mp4"), mode="w") as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": "23", "g": "48"}
            for k in range(int(seconds * fps)):
                frame = np.stack([(xx + 3 * k + 17 * i) % 256, (yy + 2 * k) % 256, (xx + yy + k) % 256], -1)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame.astype(np.uint8), format="rgb24")))
            container.mux(stream.encode())
        (root / f"clip{i:03d}.txt").write_text(f"synthetic gradient clip {i}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()

    from mgjax.cli import set_global_flags

    set_global_flags()
    from mgjax.config import Config, DataConfig, TrainConfig
    from mgjax.data.video_pipeline import VideoFolderBatches

    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        write_corpus(root, args.videos, args.size, args.size * 5 // 4, seconds=5.0)
        seconds = args.frames / 16
        rows = []
        for workers in args.workers:
            data = DataConfig(source="video_folder", root=str(root), aspect_sizes=((args.size, args.size),),
                              duration_buckets=((args.frames, seconds / 2, seconds),), batch_size=args.batch,
                              num_workers=workers, fps_prefix=True, fps_mode="bucket")
            cfg = dataclasses.replace(Config(), data=data, train=TrainConfig(steps=args.steps + 1))
            batches = VideoFolderBatches(cfg, num_steps=args.steps + 1)
            skip = 10  # start-up and the prefetch ramp
            for i in range(args.steps + 1):
                next(batches)
                if i == skip:
                    t0 = time.perf_counter()
            elapsed = time.perf_counter() - t0
            batches.close()
            clips = (args.steps - skip) * args.batch / elapsed
            rows.append((workers, clips, clips / max(workers, 1)))
        print(f"| workers | clips/s | clips/s per worker |  ({args.size}px, {args.frames} frames, batch {args.batch})")
        print("|---|---|---|")
        for workers, clips, per in rows:
            print(f"| {workers} | {clips:.1f} | {per:.1f} |")


if __name__ == "__main__":
    main()
