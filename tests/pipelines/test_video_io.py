import numpy as np

from mgjax.pipelines.video_io import read_mp4, viewing_scale, write_video


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
