import jax
import numpy as np
import pytest

from mgjax.commands import dispatch
from mgjax.errors import UserError
from mgjax.pipelines.video_io import check_free, read_mp4, sample_stems, video_files, viewing_scale, write_video


def test_mp4_and_gif_written_and_readable(tmp_path):
    frames = np.zeros((8, 32, 32, 3), np.uint8)
    for i in range(8):
        frames[i, 8:16, 2 + 2 * i: 10 + 2 * i] = (230, 40, 40)
    mp4, gif = write_video(tmp_path / "clip", frames, fps=8)
    assert mp4.suffix == ".mp4" and gif.suffix == ".gif" and gif.stat().st_size > 0
    back = read_mp4(mp4)
    scale = viewing_scale(32, 32)
    assert back.shape == (8, 32 * scale, 32 * scale, 3)
    small = back[:, ::scale, ::scale].astype(float)
    assert np.abs(small - frames).mean() < 6  # lossy H.264, but the red square is where it was
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically


def test_output_names_are_unique_and_keep_what_the_user_typed(tmp_path):
    shared = "a red circle moving left over a grey background while a blue square " * 2
    prompts = [shared + "waits", shared + "moves"]  # the same first 60 characters
    stems = sample_stems(prompts, None, tmp_path, identity=prompts)
    assert len(set(stems)) == 2 and all(s.parent == tmp_path for s in stems)
    assert sample_stems(["x"], str(tmp_path / "run.v2.mp4"), tmp_path, ["x"]) == [tmp_path / "run.v2"]
    assert video_files(tmp_path / "run.v2") == (tmp_path / "run.v2.mp4", tmp_path / "run.v2.gif")
    assert sample_stems(["x", "y"], str(tmp_path / "run.mp4"), tmp_path, ["x", "y"]) == [tmp_path / "run_0",
                                                                                         tmp_path / "run_1"]
    folder = sample_stems(["x"], f"{tmp_path}/new/", tmp_path, ["x"])[0]  # a trailing / is a folder
    assert folder.parent == tmp_path / "new" and folder.name.startswith("x-")
    (tmp_path / "run.v2.gif").write_bytes(b"mine")
    with pytest.raises(UserError, match="run.v2.gif' already exists; pass --overwrite"):
        check_free([tmp_path / "run.v2"])


def test_sample_never_replaces_a_file_without_overwrite(micro_run, tmp_path, monkeypatch):
    """Two prompts sharing their beginning get two files; running the same command again refuses before loading
    anything (the files stay), and --overwrite replaces them."""
    _, run = micro_run
    every_device = jax.devices
    monkeypatch.setattr(jax, "devices", lambda *a: every_device(*a)[:1])
    prompts = ["a red circle moving left and then a green one", "a red circle moving left and then a blue one"]
    command = ["sample", "--workdir", str(run), "--prompt", prompts[0], "--prompt", prompts[1], "--steps", "2",
               "--out", f"{tmp_path}/out/"]  # the config comes from the run's config.json
    assert dispatch(command) == 0
    written = sorted((tmp_path / "out").iterdir())
    assert len(written) == 4  # an mp4 and a gif per prompt
    before = {p: p.stat().st_mtime_ns for p in written}
    with pytest.raises(UserError, match="already exists; pass --overwrite"):
        dispatch(command)
    assert {p: p.stat().st_mtime_ns for p in written} == before
    assert dispatch(command + ["--overwrite"]) == 0
