"""Audio files for the DAC-VAE: every reader (soundfile formats and a video's audio track), soxr resampling, the
folder source's crops, loudness, determinism and bad files, and the one-line errors a user's file gets."""

import av
import numpy as np
import pytest
import soundfile

from mgjax.config.data import AudioDataConfig, DataConfig
from mgjax.data.audio_files import (AudioFolderBatches, AudioFolderClips, index_audio_folder, load_for_model,
                                    normalise_loudness, probe_audio, read_audio, resample)
from mgjax.data.video_files import BadSample
from mgjax.errors import UserError


def tone(freq: float, seconds: float, rate: int, channels: int = 1, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([level * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)], 1).astype(np.float32)


def peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio[:, 0] * np.hanning(len(audio))))
    return float(np.argmax(spectrum) * rate / len(audio))


def write_mp4_with_audio(path, audio: np.ndarray, rate: int) -> None:
    """A 1 s video (16 black frames) with an AAC track holding `audio` (n, 1)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=16)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        sound = out.add_stream("aac", rate=rate, layout="mono")
        for _ in range(16):
            out.mux(video.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        out.mux(video.encode(None))
        step = 1024
        for i in range(0, len(audio), step):
            frame = av.AudioFrame.from_ndarray(audio[i:i + step, 0][None], format="flt", layout="mono")
            frame.sample_rate, frame.pts = rate, i
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    soundfile.write(root / "a.wav", tone(440, 1.5, 44_100, channels=2), 44_100)
    soundfile.write(root / "b.flac", tone(1000, 1.2, 22_050), 22_050)
    soundfile.write(root / "c.ogg", tone(600, 1.1, 16_000), 16_000)
    write_mp4_with_audio(root / "d.mp4", tone(800, 1.0, 32_000), 32_000)
    (root / "sub").mkdir()
    soundfile.write(root / "sub" / "short.wav", tone(500, 0.1, 16_000), 16_000)
    (root / "empty.wav").write_bytes(b"")
    (root / "junk.flac").write_bytes(b"not audio at all" * 10)
    return root


def test_every_reader_and_the_resampler_keep_the_pitch(folder):
    for name, freq in (("a.wav", 440), ("b.flac", 1000), ("c.ogg", 600), ("d.mp4", 800)):
        audio, rate = read_audio(folder / name)
        info = probe_audio(folder / name)
        assert info.sample_rate == rate and audio.shape[1] == info.channels
        assert abs(peak_hz(audio, rate) - freq) < 3, name
        at16k = resample(audio, rate, 16_000)
        assert abs(len(at16k) - len(audio) * 16_000 / rate) <= 1 and abs(peak_hz(at16k, 16_000) - freq) < 3, name
    part, _ = read_audio(folder / "a.wav", start=1000, frames=500)
    whole, _ = read_audio(folder / "a.wav")
    np.testing.assert_array_equal(part, whole[1000:1500])


def test_index_names_each_bad_file(folder):
    usable, bad = index_audio_folder(folder, 0.5)
    assert [rel for rel, _ in usable] == ["a.wav", "b.flac", "c.ogg", "d.mp4"]
    reasons = dict(bad)
    assert reasons["empty.wav"] == "zero-length file" and "unreadable audio" in reasons["junk.flac"]
    assert reasons["sub/short.wav"].startswith("shorter (0.10 s) than data.audio.seconds")


def test_folder_batches_are_crops_at_the_model_rate_loudness_normalised_and_repeatable(folder, tmp_path):
    usable, _ = index_audio_folder(folder, 0.5)
    clips = AudioFolderClips(str(folder), usable, 3, 16_000, 8_000, -20.0, seed=1)
    batch = clips(5)
    assert batch["audio"].shape == (3, 8_000, 1) and batch["bad"] == []
    rms_db = 20 * np.log10(np.sqrt(np.mean(batch["audio"] ** 2, axis=(1, 2))))
    np.testing.assert_allclose(rms_db, -20.0, atol=0.05)
    np.testing.assert_array_equal(clips(5)["audio"], batch["audio"])
    assert not np.array_equal(clips(6)["audio"], batch["audio"])
    # a file broken after start-up is replaced by the next one and reported
    (folder_copy := tmp_path / "copy").mkdir()
    for rel, _ in usable:
        (folder_copy / rel).write_bytes((folder / rel).read_bytes())
    (folder_copy / "b.flac").write_bytes(b"broken")
    broken = AudioFolderClips(str(folder_copy), usable, 4, 16_000, 8_000, -20.0, seed=1)
    out = broken(0)
    assert out["audio"].shape == (4, 8_000, 1) and [rel for rel, _ in out["bad"]] == ["b.flac"]
    d = DataConfig(source="audio_folder", root=str(folder_copy), batch_size=4, max_bad_samples=0,
                   audio=AudioDataConfig(seconds=0.5))
    with pytest.raises(UserError, match="bad samples exceed data.max_bad_samples=0"):
        batches = AudioFolderBatches(d, 16_000, 8_000, 0, 3)
        for _ in range(3):
            next(batches)


def test_loudness_normalisation_limits_the_peak_and_leaves_silence():
    clicks = np.zeros((1000, 1), np.float32)
    clicks[::100] = 1.0
    out = normalise_loudness(clicks, -6.0)
    assert np.max(np.abs(out)) <= 0.98 + 1e-6
    assert np.array_equal(normalise_loudness(np.zeros((10, 1), np.float32), -20.0), np.zeros((10, 1)))


def test_a_users_file_gets_one_line_naming_the_fix(folder, tmp_path):
    with pytest.raises(UserError, match="has 2 channels and the DAC-VAE is mono: pass --downmix"):
        load_for_model(folder / "a.wav", 16_000)
    audio, info = load_for_model(folder / "a.wav", 16_000, downmix=True, any_rate=True)
    assert info.channels == 2 and abs(len(audio) - 1.5 * 16_000) <= 1 and audio.shape[1] == 1
    with pytest.raises(UserError, match="sampled at 16000 Hz, far from the model.s 88200 Hz: pass --resample"):
        load_for_model(folder / "c.ogg", 88_200)
    with pytest.raises(UserError, match="zero-length file"):
        load_for_model(folder / "empty.wav", 16_000)
    with pytest.raises(UserError, match="unreadable audio"):
        load_for_model(folder / "junk.flac", 16_000)
    with pytest.raises(UserError, match="file not found"):
        load_for_model(tmp_path / "missing.wav", 16_000)
    soundfile.write(tmp_path / "none.wav", np.zeros((0, 1), np.float32), 16_000)
    with pytest.raises(UserError, match="no audio samples"):
        load_for_model(tmp_path / "none.wav", 16_000)
    with pytest.raises(BadSample):
        read_audio(folder / "junk.flac")
