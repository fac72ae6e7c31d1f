"""The video-folder pipeline on real mp4 files made here with PyAV, with broken files mixed in."""

import collections
import dataclasses
import json
import logging
import pathlib

import av
import numpy as np
import pytest

from conftest import micro_config
from mgjax.data.buckets import Bucket, batch_size
from mgjax.data.video_files import BadSample, decode_clip, probe, scan
from mgjax.data.video_pipeline import BadDataBudgetExceeded, VideoFolderBatches, build_index
from mgjax.errors import UserError

NATIVE_FPS = 24


def write_video(path: pathlib.Path, num_frames: int, height: int, width: int, fps: int = NATIVE_FPS,
                faststart: bool = False, offset: int = 0) -> pathlib.Path:
    """Frame k is uniformly grey at level 4 * (k + offset) % 256, so a decoded frame tells which source frame it is."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "10", "g": "12"}
        for k in range(num_frames):
            frame = np.full((height, width, 3), (4 * (k + offset)) % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def data_config(root: pathlib.Path, **data):
    cfg = micro_config()
    data = {"batch_size": 2, "source": "video_folder", "fps_mode": "bucket", "aspect_sizes": ((32, 48), (48, 32)),
            "duration_buckets": ((16, 1.5, 2.0), (8, 0.75, 1.5)), "fps_prefix": True, **data}
    d = dataclasses.replace(cfg.data, root=str(root), **data)
    return dataclasses.replace(cfg, data=d, train=dataclasses.replace(cfg.train, steps=8))


def make_corpus(root: pathlib.Path, bad: bool = True) -> dict[str, str]:
    """4 landscape 2 s clips, 4 portrait 1 s clips, 2 images; plus (if `bad`) one file of each broken kind.
    Returns {bad path: expected reason fragment}."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(4):
        write_video(root / f"land{i}.mp4", 48, 48, 64, offset=10 * i)
        (root / f"land{i}.txt").write_text(f"landscape clip {i}")
        write_video(root / f"port{i}.mp4", 24, 64, 48, offset=10 * i)
        (root / f"port{i}.txt").write_text(f"portrait clip {i}")
    for i in range(2):
        from PIL import Image
        Image.fromarray(np.full((40, 60, 3), 50 * i, np.uint8)).save(root / f"img{i}.png")
        (root / f"img{i}.txt").write_text(f"image {i}")
    if not bad:
        return {}
    (root / "garbage.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    (root / "garbage.txt").write_text("noise")
    (root / "empty.mp4").write_bytes(b"")
    (root / "empty.txt").write_text("nothing")
    good = write_video(root / "cut.mp4", 48, 48, 64).read_bytes()  # moov atom at the end: the header is lost
    (root / "cut.mp4").write_bytes(good[: len(good) // 2])
    (root / "cut.txt").write_text("cut short")
    write_video(root / "short.mp4", 6, 48, 64)  # 0.25 s: shorter than every duration bucket
    (root / "short.txt").write_text("too short")
    write_video(root / "latin1.mp4", 48, 48, 64)
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    faststart = write_video(root / "tail.mp4", 48, 48, 64, faststart=True).read_bytes()  # header first: probes,
    (root / "tail.mp4").write_bytes(faststart[: len(faststart) * 3 // 5])  # then fails to decode its second half
    (root / "tail.txt").write_text("truncated tail")
    return {"garbage.mp4": "undecodable", "empty.mp4": "zero-length", "cut.mp4": "undecodable",
            "short.mp4": "too short", "latin1.mp4": "not UTF-8", "tail.mp4": "decode failed"}


def test_decode_samples_frames_at_the_target_fps(tmp_path):
    path = write_video(tmp_path / "v.mp4", 48, 48, 64)
    info = probe(path)
    assert (info.width, info.height, info.fps) == (64, 48, NATIVE_FPS) and abs(info.duration - 2.0) < 0.05
    clip = decode_clip(path, start=0.5, num_frames=8, fps=8, height=32, width=48)  # every 3rd source frame from 12
    assert clip.shape == (8, 32, 48, 3)
    expect = 4 * (12 + 3 * np.arange(8))
    np.testing.assert_allclose(clip.reshape(8, -1).mean(1), expect, atol=3)
    with pytest.raises(BadSample, match="truncated"):
        decode_clip(path, start=1.5, num_frames=16, fps=8, height=32, width=48)  # would run past the end


def test_bad_files_are_skipped_counted_named_and_training_batches_still_stack(tmp_path, caplog):
    expected = make_corpus(tmp_path / "data")
    cfg = data_config(tmp_path / "data", max_bad_samples=10)
    with caplog.at_level(logging.WARNING):
        batches = VideoFolderBatches(cfg, num_steps=8)
        seen = [next(batches) for _ in range(8)]
        batches.close()
    bad = batches.get_state()["bad"]
    assert sorted(bad) == sorted(expected)  # every broken file found once, at start-up or when decoded
    text = " ".join(r.message for r in caplog.records)
    for path, reason in expected.items():
        assert path in text and reason in text, (path, reason)
    shapes = {b["video"].shape for b in seen}
    assert shapes == {(2, 16, 32, 48, 3), (2, 8, 48, 32, 3)}  # two buckets: 2 s landscape, 1 s portrait
    captions = [c for b in seen for c in b["caption"]]
    assert all(c.startswith("FPS-8 ") for c in captions)  # 16 frames over 2 s, 8 frames over 1 s
    assert not any("truncated tail" in c for c in captions)


def test_bad_sample_budget_stops_the_run_with_a_clear_message(tmp_path):
    make_corpus(tmp_path / "data")
    with pytest.raises(BadDataBudgetExceeded, match=r"exceed data.max_bad_samples=2.*raise the budget"):
        batches = VideoFolderBatches(data_config(tmp_path / "data", max_bad_samples=2), num_steps=4)
        for _ in range(4):
            next(batches)


def test_manifest_paths_must_stay_inside_the_root(tmp_path):
    make_corpus(tmp_path / "data", bad=False)
    manifest = tmp_path / "data" / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": "land0.mp4", "caption": "ok", "camera_motion": "pan left"}) + "\n")
    items, _ = scan(tmp_path / "data", manifest)
    assert items[0].camera_motion == "pan left"
    for escape in ("../outside.mp4", "/etc/passwd", "sub/../../x.mp4"):
        manifest.write_text(json.dumps({"path": escape, "caption": "x"}) + "\n")
        with pytest.raises(UserError, match="leaves the data root"):
            scan(tmp_path / "data", manifest)


def test_images_mix_in_at_image_every_and_buckets_size_batches_by_tokens(tmp_path):
    make_corpus(tmp_path / "data", bad=False)
    cfg = data_config(tmp_path / "data", image_every=2)
    entries, bad = build_index(cfg.data)
    assert not bad and len(entries) == 10
    batches = VideoFolderBatches(cfg, num_steps=4)
    frames = [next(batches)["video"].shape[1] for _ in range(4)]
    assert frames[1] == frames[3] == 1 and frames[0] > 1 and frames[2] > 1
    # token budget: 16 frames of 32x48 under (1, 4, 4) x (1, 2, 2) -> 16 x 4 x 6 = 384 tokens per sample
    assert batch_size(Bucket(16, 32, 48), 1000, (1, 4, 4), (1, 2, 2)) == 2
    assert batch_size(Bucket(1, 32, 48), 1000, (1, 4, 4), (1, 2, 2)) == 41
    assert batch_size(Bucket(1, 32, 48), 1000, (1, 4, 4), (1, 2, 2), multiple=8) == 40


@pytest.mark.parametrize("workers", [0, 2])
def test_resumed_stream_equals_the_uninterrupted_stream(tmp_path, workers):
    make_corpus(tmp_path / "data")
    cfg = data_config(tmp_path / "data", num_workers=workers, max_bad_samples=10, image_every=3)
    full = VideoFolderBatches(cfg, num_steps=7)
    stream = [next(full) for _ in range(7)]
    full.close()
    first = VideoFolderBatches(cfg, num_steps=3)
    for _ in range(3):
        next(first)
    state = json.loads(json.dumps(first.get_state()))  # what the checkpoint stores
    first.close()
    resumed = VideoFolderBatches(cfg, num_steps=4, state=state)
    for expect in stream[3:]:
        got = next(resumed)
        np.testing.assert_array_equal(got["video"], expect["video"])
        assert list(got["caption"]) == list(expect["caption"])
    resumed.close()
    assert resumed.get_state()["step"] == 7


@pytest.mark.slow
def test_text_to_video_trains_on_a_video_folder_and_resumes_its_data_state(tmp_path, devices):
    """Bucketed batches of different shapes through the shared loop; the checkpoint carries the data state."""
    from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir
    from mgjax.train.loop import train

    expected = make_corpus(tmp_path / "data")
    cfg = data_config(tmp_path / "data", max_bad_samples=10)
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, max_patches=(16, 6, 6)),
                              train=dataclasses.replace(cfg.train, steps=4, checkpoint_every=2, log_every=1))
    train(cfg, tmp_path / "run", devices=devices[:1], verbose=False, stop_after=2)  # "preempted" after 2 steps
    ckpt = Checkpointer(checkpoint_dir(tmp_path / "run"), async_save=False)
    meta = ckpt.restore_meta(2)
    ckpt.close()
    assert meta["data"]["step"] == 2 and set(meta["data"]["bad"]) <= set(expected)
    metrics = train(cfg, tmp_path / "run", devices=devices[:1], verbose=False)
    assert np.isfinite(metrics["loss"])


def test_video_folder_configs_are_checked_when_built(tmp_path):
    from mgjax.train.tasks import validate

    cfg = data_config(tmp_path)
    cfg = dataclasses.replace(cfg, sample=dataclasses.replace(cfg.sample, linear_steps=2))  # a valid sampler
    with pytest.raises(UserError, match=r"largest bucket needs \(16, 6, 6\) patches"):
        validate(cfg)
    with pytest.raises(UserError, match="needs data.root"):
        validate(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, root="")))
    with pytest.raises(UserError, match="divisible by codec factor x patch size"):
        validate(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, aspect_sizes=((30, 48),))))


@pytest.mark.multiprocess
def test_two_processes_read_disjoint_shards_and_assemble_the_global_batch(tmp_path):
    """jax.distributed on localhost: each process decodes half of every batch; the assembled global array equals the
    batch one process reads alone."""
    import os
    import subprocess
    import sys

    import portpicker

    make_corpus(tmp_path / "data")
    out = tmp_path / "out"
    out.mkdir()
    port = portpicker.pick_unused_port()
    script = pathlib.Path(__file__).with_name("two_process_batch.py")
    env = dict(os.environ, XLA_FLAGS="", JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, str(script), str(port), str(i), str(tmp_path / "data"), str(out)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs[0][-3000:] + logs[1][-3000:]

    single = VideoFolderBatches(data_config(tmp_path / "data", batch_size=4, max_bad_samples=10), num_steps=3)
    for step in range(3):
        expect = next(single)
        got = np.load(out / f"step{step}.npz")
        np.testing.assert_array_equal(got["video"], expect["video"])  # process 0's half, then process 1's
        np.testing.assert_array_equal(got["local_video"], expect["video"][:len(got["local_video"])])
        halves = [(out / f"captions_{i}_{step}.txt").read_text().splitlines() for i in range(2)]
        assert halves[0] + halves[1] == list(expect["caption"])
    single.close()


def test_precompute_from_a_video_folder_resumes_after_an_interruption(tmp_path, monkeypatch):
    """Latent shards from a folder (one codec call per bucket shape, bad files skipped); an interrupted run keeps its
    complete shards and the finished set equals an uninterrupted one."""
    from mgjax.data import video_pipeline
    from mgjax.data.latent_records import LatentSource, shard_files
    from mgjax.pipelines.precompute_latents import write_latent_records

    expected_bad = make_corpus(tmp_path / "data")
    cfg = data_config(tmp_path / "data", max_bad_samples=10)
    whole = write_latent_records(cfg, tmp_path / "whole", shard_size=4, batch=2)
    assert whole["shards"] == 3 and whole["records"] == 10  # 11 probed files, tail.mp4 fails when decoded
    assert whole["bad_samples"] == sorted(expected_bad) and whole["captions_are_prompts"]
    assert sorted(map(tuple, whole["latent_shapes"])) == [(1, 8, 12, 48), (8, 12, 8, 48), (16, 8, 12, 48)]

    real_load, calls = video_pipeline.DecodeStep.load, []

    def flaky_load(self, i, epoch):
        calls.append(i)
        if len(calls) == 7:  # dies inside the second shard
            raise KeyboardInterrupt
        return real_load(self, i, epoch)

    monkeypatch.setattr(video_pipeline.DecodeStep, "load", flaky_load)
    with pytest.raises(KeyboardInterrupt):
        write_latent_records(cfg, tmp_path / "resumed", shard_size=4, batch=2)
    kept = shard_files(tmp_path / "resumed", 3)
    assert len(kept) == 1 and not (tmp_path / "resumed" / "meta.json").exists()
    kept_time = kept[0].stat().st_mtime_ns
    monkeypatch.setattr(video_pipeline.DecodeStep, "load", real_load)
    meta = write_latent_records(cfg, tmp_path / "resumed", shard_size=4, batch=2)
    assert meta["resumed_shards"] == 1 and kept[0].stat().st_mtime_ns == kept_time
    stray = tmp_path / "whole" / "latents-00000-of-00009.array_record"  # left by an earlier run with another count
    stray.write_bytes(kept[0].read_bytes())
    a, b = LatentSource(tmp_path / "whole"), LatentSource(tmp_path / "resumed")
    assert len(a) == len(b) == 10
    for i in range(10):
        np.testing.assert_array_equal(a[i]["latent"], b[i]["latent"])
        assert a[i]["caption"] == b[i]["caption"]


def test_tfds_array_record_dataset_built_offline_gives_the_folder_s_batches(tmp_path):
    """The folder packed into TFDS (array_record, no TensorFlow) and read through tfds: the same stream."""
    import sys

    from mgjax.data.tfds_videos import TFDSRecords, build

    expected_bad = make_corpus(tmp_path / "data")
    directory, skipped = build(tmp_path / "data", tmp_path / "tfds", name="test_videos")
    assert "tensorflow" not in sys.modules
    # left out at build: what cannot be probed; too-short and undecodable-tail files are caught when training reads
    assert sorted(p for p, _ in skipped) == sorted(set(expected_bad) - {"tail.mp4", "short.mp4"})
    assert list(directory.glob("*.array_record*")) and len(TFDSRecords(directory)) == 12

    folder = VideoFolderBatches(data_config(tmp_path / "data", max_bad_samples=10), num_steps=6)
    packed = VideoFolderBatches(data_config(directory, source="tfds", max_bad_samples=10), num_steps=6)
    for _ in range(6):
        a, b = next(folder), next(packed)
        np.testing.assert_array_equal(a["video"], b["video"])
        assert list(a["caption"]) == list(b["caption"])
    assert {"tail.mp4", "short.mp4"} <= set(packed.get_state()["bad"])


def test_bucketed_latent_records_batch_one_shape_at_a_time(tmp_path):
    """Latents precomputed from a folder keep their bucket shapes; training batches group records by shape."""
    from mgjax.data.latent_records import LatentSource
    from mgjax.pipelines.precompute_latents import write_latent_records
    from mgjax.data.t2v_loader import t2v_batches
    from mgjax.models.text.stack import load_or_train_tokenizers

    make_corpus(tmp_path / "data", bad=False)
    cfg = data_config(tmp_path / "data")
    write_latent_records(cfg, tmp_path / "latents", shard_size=4, batch=2)
    source = LatentSource(tmp_path / "latents")
    assert len(source.record_shapes()) == len(source) == 10
    latent_cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="latents",
                                                                   latents_path=str(tmp_path / "latents")))
    tokenizers = load_or_train_tokenizers(cfg.text.encoders, tmp_path / "run", corpus=lambda: [source[0]["caption"]])
    batches = list(t2v_batches(latent_cfg, tokenizers, num_steps=10))
    shapes = [b["latent"].shape for b in batches]
    per_epoch = {(2, 16, 8, 12, 48): 2, (2, 8, 12, 8, 48): 2, (2, 1, 8, 12, 48): 1}  # 4 + 4 clips, 2 images
    assert collections.Counter(shapes[:5]) == collections.Counter(shapes[5:]) == per_epoch
    assert all(b["text"][0][0].shape[0] == 2 for b in batches)


def test_native_fps_mode_samples_at_the_video_s_own_rate_with_a_floor(tmp_path):
    """Paper pre-training: original FPS, floor 16. A 24 fps clip keeps 24 fps; an 8 fps clip is sampled at 16."""
    from mgjax.data.buckets import clip_plan
    from mgjax.data.video_files import MediaInfo

    table = ((256, 10.67, 16.0), (192, 8.0, 10.67), (128, 4.0, 8.0))  # v1 Table 2
    assert clip_plan(MediaInfo(64, 48, 24.0, 20.0), table, (16, 32)) == (256, 256 / 24)  # 10.67 s @ 24
    assert clip_plan(MediaInfo(64, 48, 16.0, 30.0), table, (16, 32)) == (256, 16.0)  # 16 s @ 16
    assert clip_plan(MediaInfo(64, 48, 60.0, 30.0), table, (16, 32)) == (128, 4.0)  # capped at 32 fps
    assert clip_plan(MediaInfo(64, 48, 24.0, 9.0), table, (16, 32)) == (192, 8.0)  # 9 s video: 192 @ 24
    with pytest.raises(BadSample, match="too short"):
        clip_plan(MediaInfo(64, 48, 24.0, 3.0), table, (16, 32))

    root = tmp_path / "data"
    root.mkdir()
    write_video(root / "a.mp4", 48, 48, 64, fps=24)
    (root / "a.txt").write_text("native rate")
    write_video(root / "b.mp4", 16, 48, 64, fps=8)  # 2 s at 8 fps: below the floor
    (root / "b.txt").write_text("slow source")
    cfg = data_config(root, fps_mode="native", fps_floor=16.0, batch_size=1, duration_buckets=((24, 0.5, 2.0),))
    batches = VideoFolderBatches(cfg, num_steps=2)
    got = {str(c): v for b in (next(batches), next(batches)) for c, v in zip(b["caption"], b["video"])}
    assert set(got) == {"FPS-24 native rate", "FPS-16 slow source"}
    a = got["FPS-24 native rate"].reshape(24, -1).mean(1)
    assert np.all(np.abs(np.diff(a) - 4) <= 3)  # consecutive source frames: grey levels step by 4
    b = got["FPS-16 slow source"].reshape(24, -1).mean(1)
    assert np.sum(np.abs(np.diff(b)) < 2) >= 8  # 16 fps from an 8 fps source repeats frames


def test_a_tokenizer_trained_here_learns_the_data_s_own_captions(tmp_path):
    """With no tokenizer given, the corpus is the prompts the model trains on: a folder's captions with their
    prefixes, or cached records' captions; never Moving Shapes captions standing in for them."""
    from mgjax.pipelines.precompute_latents import write_latent_records
    from mgjax.data.t2v_loader import caption_corpus_for

    make_corpus(tmp_path / "data", bad=False)
    cfg = data_config(tmp_path / "data")
    corpus = caption_corpus_for(cfg)
    assert sorted(corpus) == sorted(["FPS-16 landscape clip %d" % i for i in range(4)]
                                    + ["FPS-16 portrait clip %d" % i for i in range(4)] + ["image 0", "image 1", ""])
    write_latent_records(cfg, tmp_path / "latents", shard_size=4, batch=2)
    latent_cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source="latents",
                                                                   latents_path=str(tmp_path / "latents")))
    from_records = caption_corpus_for(latent_cfg)
    assert len(from_records) == 11 and all(c.startswith("FPS-") for c in from_records if "clip" in c)


def test_an_empty_folder_and_missing_captions_are_one_line_naming_the_fix(tmp_path, caplog):
    cfg = data_config(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"holds no videos or images \(mp4, .*\); point data.root at your folder"):
        build_index(cfg.data)
    root = tmp_path / "uncaptioned"
    root.mkdir()
    for i in range(3):
        write_video(root / f"v{i}.mp4", 48, 48, 64)
    with pytest.raises(UserError, match=r"no usable samples under .*: 3 no caption file \(v0.mp4, v1.mp4, \.\.\.\); "
                                        r"put a caption file beside each one \(clip.mp4 \+ clip.txt\)"):
        build_index(dataclasses.replace(cfg.data, root=str(root)))
    (root / "v0.txt").write_text("a grey clip")
    with caplog.at_level(logging.WARNING):
        entries, _ = build_index(dataclasses.replace(cfg.data, root=str(root)))
    assert len(entries) == 1 and "2 of 3 files under" in caplog.text and "have no caption" in caplog.text
