"""A video folder packed into a TFDS dataset (array_record files), built offline without TensorFlow.

    python -m mgjax tfds --root DATA_ROOT [--manifest FILE] --out TFDS_DIR [--name NAME]

Each example holds the file's encoded bytes (mp4/webm/mov or image; never decoded at build time), its caption, camera
motion and relative path, and the probed metadata (width, height, fps, duration). Files that cannot be probed are left
out and listed. Training reads the result with `data.source="tfds"` and `data.root=TFDS_DIR/NAME/VERSION` through
`tfds.builder_from_directory(...).as_data_source("train")`, the same buckets, decoding and bad-data handling as the
folder itself. (TFDS's Video and Text features need TensorFlow, so every feature is a plain Tensor: bytes as
`np.object_`, per the stack notes.)
"""

from __future__ import annotations

import pathlib

import numpy as np

from mgjax.data.video_files import BadSample, MediaInfo, MediaItem, caption_ok, inside_root, probe, scan

VERSION = "1.0.0"


def _features():
    import tensorflow_datasets as tfds  # optional: only a TFDS dataset needs it (and its start-up cost)

    text = lambda: tfds.features.Tensor(shape=(), dtype=np.object_)  # noqa: E731
    scalar = lambda dtype: tfds.features.Tensor(shape=(), dtype=dtype)  # noqa: E731
    return tfds.features.FeaturesDict({
        "data": text(), "path": text(), "caption": text(), "camera_motion": text(),
        "width": scalar(np.int32), "height": scalar(np.int32), "fps": scalar(np.float32),
        "duration": scalar(np.float32)})


def make_builder(name: str, root: str | pathlib.Path, manifest: str | None, data_dir: str | pathlib.Path):
    """A TFDS builder class named `name` over the folder, instantiated on `data_dir`."""
    import tensorflow_datasets as tfds

    root = pathlib.Path(root)

    class Builder(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version(VERSION)
        skipped: list[tuple[str, str]] = []

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=_features(),
                                         description=f"videos and images with captions from {root}")

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            items, bad = scan(root, manifest)
            Builder.skipped = list(bad)
            for item in items:
                path = inside_root(root, item.path)
                try:
                    caption_ok(item.caption)
                    data = path.read_bytes() if path.is_file() else None  # read once: probed and stored
                    info = probe(path, data)
                except BadSample as e:
                    Builder.skipped.append((item.path, str(e)))
                    continue
                yield item.path, {"data": data, "path": item.path, "caption": item.caption,
                                  "camera_motion": item.camera_motion, "width": info.width, "height": info.height,
                                  "fps": info.fps, "duration": info.duration}

    Builder.__name__ = Builder.name = name
    return Builder(data_dir=str(data_dir), file_format="array_record")


def build(root: str | pathlib.Path, out: str | pathlib.Path, manifest: str | None = None,
          name: str = "mgjax_videos") -> tuple[pathlib.Path, list[tuple[str, str]]]:
    """Build the dataset; returns (its directory, [(path, reason)] of files left out)."""
    builder = make_builder(name, root, manifest, out)
    builder.download_and_prepare()
    return pathlib.Path(builder.data_dir), list(type(builder).skipped)


class TFDSRecords:
    """The built dataset as a random-access source (picklable for Grain workers): index -> example dict."""

    def __init__(self, directory: str | pathlib.Path):
        import tensorflow_datasets as tfds

        self.directory = str(directory)
        self._source = tfds.builder_from_directory(self.directory).as_data_source("train")

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        return self._source[index]

    def __getstate__(self):
        return {"directory": self.directory}

    def __setstate__(self, state):
        self.__init__(state["directory"])

    def index(self) -> list[tuple[int, MediaItem, MediaInfo]]:
        """(record, item, info) for every example, read once at start-up (the bytes are read and dropped)."""
        out = []
        for i in range(len(self)):
            ex = self[i]
            item = MediaItem(_text(ex["path"]), _text(ex["caption"]), _text(ex["camera_motion"]))
            out.append((i, item, MediaInfo(int(ex["width"]), int(ex["height"]), float(ex["fps"]),
                                           float(ex["duration"]))))
        return out


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
