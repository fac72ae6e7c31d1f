"""The audio commands on the committed tiny DAC-VAE: encode a file to latents, decode them to a wav, reconstruct a file;
the chunk length changes nothing; a user's bad input gets one line and nothing is written or replaced."""

import numpy as np
import pytest
import soundfile

from conftest import REPO
from mgjax.commands import dispatch
from mgjax.errors import UserError
from mgjax.pipelines.audio_io import spectrogram_image

ASSET = str(REPO / "assets" / "dac_vae_tiny")


def cli(*args):
    return dispatch([args[0], "--workdir", ASSET, *args[1:]])


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """2.3 s at 16 kHz (not a whole number of hops): a chord under a repeating envelope."""
    path = tmp_path_factory.mktemp("in") / "song.wav"
    t = np.arange(36_800) / 16_000
    audio = 0.2 * np.exp(-2 * (t % 0.5)) * sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392))
    soundfile.write(path, audio.astype(np.float32), 16_000, subtype="PCM_16")
    return path


def test_encode_decode_and_reconstruct_files(song, tmp_path):
    latents, out, again = tmp_path / "song.npz", tmp_path / "song.wav", tmp_path / "again.wav"
    assert cli("audio-encode", "--input", str(song), "--out", str(latents)) == 0
    with np.load(latents) as f:
        assert f["latents"].shape == (58, 16) and int(f["num_samples"]) == 36_800  # ceil(36800 / 640) frames
    assert cli("audio-decode", "--input", str(latents), "--out", str(out)) == 0
    decoded, rate = soundfile.read(out, dtype="float32")
    assert rate == 16_000 and decoded.shape == (36_800,)
    # one file in, one out, the same as encode then decode; 0.5 s chunks give what 10 s chunks give
    assert cli("audio-reconstruct", "--input", str(song), "--out", str(again), "--chunk-seconds", "0.5") == 0
    chunked, _ = soundfile.read(again, dtype="float32")
    assert np.max(np.abs(chunked - decoded)) <= 2 / 32767  # 16-bit PCM rounding
    with np.load(latents) as f:
        tampered = dict(f, num_samples=np.int64(40_000))
    np.savez(tmp_path / "tampered.npz", **tampered)
    with pytest.raises(UserError, match="says 40000 samples, which 58 latent frames of hop 640 cannot hold"):
        cli("audio-decode", "--input", str(tmp_path / "tampered.npz"), "--out", str(tmp_path / "t.wav"))
    assert np.all(np.isfinite(decoded)) and 0 < np.std(decoded) < 1  # quality: tests/eval/test_audio_recon.py


def test_bad_input_is_one_line_and_writes_nothing(song, tmp_path):
    stereo, far, empty = tmp_path / "stereo.wav", tmp_path / "far.wav", tmp_path / "empty.wav"
    soundfile.write(stereo, np.zeros((1600, 2), np.float32), 16_000)
    soundfile.write(far, np.zeros(800, np.float32), 4_000)
    empty.write_bytes(b"")
    out = tmp_path / "out.wav"
    cases = [(["audio-reconstruct", "--input", str(stereo)], "has 2 channels and the DAC-VAE is mono: pass --downmix"),
             (["audio-reconstruct", "--input", str(far)], "sampled at 4000 Hz, far from the model's 16000 Hz"),
             (["audio-reconstruct", "--input", str(empty)], "zero-length file"),
             (["audio-encode", "--input", str(tmp_path / "nope.wav")], "file not found"),
             (["audio-decode", "--input", str(song)], "is not a latent file written by"),
             (["audio-reconstruct", "--input", str(song), "--chunk-seconds", "0"], "--chunk-seconds must be positive")]
    for args, message in cases:
        with pytest.raises(UserError, match=message):
            cli(*args, "--out", str(out))
        assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert cli("audio-reconstruct", "--input", str(stereo), "--downmix", "--out", str(out)) == 0
    before = out.read_bytes()
    with pytest.raises(UserError, match="already exists; pass --overwrite"):
        cli("audio-reconstruct", "--input", str(song), "--out", str(out))
    assert out.read_bytes() == before
    with pytest.raises(UserError, match="holds a tae model; the audio commands need a DAC-VAE"):
        dispatch(["audio-encode", "--workdir", str(REPO / "assets" / "tae_natural"), "--input", str(song), "--out",
                  str(tmp_path / "x.npz")])


def test_spectrogram_shows_a_tone_where_it_is():
    t = np.arange(16_000) / 16_000
    image = np.asarray(spectrogram_image([("tone", np.sin(2 * np.pi * 4000 * t))], 16_000, height=200, width=100))
    brightness = image[20:200].sum(axis=(1, 2))  # below the label, above the white separator
    assert abs(20 + int(np.argmax(brightness)) - 100) <= 3  # 4 kHz of 0-8 kHz, frequency up: the middle row
