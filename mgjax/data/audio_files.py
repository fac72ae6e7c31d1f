"""Audio from files: wav / flac / ogg / aiff through soundfile (libsndfile), the audio track of video and compressed
audio files (mp4, mkv, mov, webm, m4a, mp3, ...) through PyAV; resampled with soxr (its very-high-quality
band-limited resampler), mixed down to mono, loudness-normalised.

`AudioFolderClips` is the DAC-VAE's `data.source=audio_folder`: every file under `data.root` is probed once at
start-up; step s's batch is a pure function of (seed, s): a seeded permutation of the usable files per epoch, a seeded
random crop of `data.audio.seconds` from each, normalised to `data.audio.loudness_dbfs` RMS (peak at most 0.98). A
file that fails to read is replaced by the next one and named in the batch's `bad` list; the task counts unique bad
files and stops past `data.max_bad_samples` (as for video folders).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import pathlib

import av
import numpy as np
import soundfile
import soxr

from mgjax.config.data import DataConfig
from mgjax.data.video_files import VIDEO_SUFFIXES, BadSample
from mgjax.data.video_pipeline import BadDataMonitor, MonitoredBatches
from mgjax.errors import UserError

log = logging.getLogger(__name__)

SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff")
CONTAINER_SUFFIXES = VIDEO_SUFFIXES + (".m4a", ".mp3", ".aac", ".opus")
AUDIO_SUFFIXES = SOUNDFILE_SUFFIXES + CONTAINER_SUFFIXES
PEAK = 0.98


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int  # samples per channel

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def _check_file(path: pathlib.Path) -> None:
    if not path.is_file():
        raise BadSample("file not found")
    if path.stat().st_size == 0:
        raise BadSample("zero-length file")


def _unreadable(e: Exception) -> BadSample:  # libsndfile's errors come as several types
    return BadSample(f"unreadable audio ({type(e).__name__}: {str(e).splitlines()[0][:120]})")


def probe_audio(path: str | pathlib.Path) -> AudioInfo:
    """Rate, channels and length from the header (soundfile) or the container's audio stream (PyAV)."""
    path = pathlib.Path(path)
    _check_file(path)
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        try:
            info = soundfile.info(str(path))
        except Exception as e:
            raise _unreadable(e) from None
        return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames))
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise BadSample("no audio track")
            stream = container.streams.audio[0]
            seconds = (float(stream.duration * stream.time_base) if stream.duration
                       else (container.duration or 0) / av.time_base)
            return AudioInfo(int(stream.rate), int(stream.channels), round(seconds * stream.rate))
    except BadSample:
        raise
    except Exception as e:
        raise BadSample(f"unreadable media ({type(e).__name__})") from None


def read_audio(path: str | pathlib.Path, start: int = 0, frames: int = -1) -> tuple[np.ndarray, int]:
    """-> (float32 (n, channels) in [-1, 1], sample rate): samples start .. start + frames (all with -1)."""
    path = pathlib.Path(path)
    _check_file(path)
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        try:
            audio, rate = soundfile.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
        except Exception as e:
            raise _unreadable(e) from None
    else:
        audio, rate = _decode_track(path)
        audio = audio[start:] if frames < 0 else audio[start:start + frames]
    if audio.shape[0] == 0:
        raise BadSample("no audio samples")
    if not np.isfinite(audio).all():
        raise BadSample("non-finite samples")
    return audio, rate


def _decode_track(path: pathlib.Path) -> tuple[np.ndarray, int]:
    """The first audio track of a container, decoded whole, as float32 (n, channels)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=stream.rate)
            chunks = [np.asarray(out.to_ndarray()).reshape(-1, stream.channels)
                      for frame in container.decode(stream) for out in resampler.resample(frame)]
            chunks += [np.asarray(out.to_ndarray()).reshape(-1, stream.channels) for out in resampler.resample(None)]
            rate = int(stream.rate)
    except Exception as e:
        raise BadSample(f"undecodable audio track ({type(e).__name__})") from None
    if not chunks:
        raise BadSample("no audio samples")
    return np.concatenate(chunks).astype(np.float32), rate


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """float32 (n, c) at `rate` -> at `target` (soxr VHQ), round(n * target / rate) samples."""
    if rate == target:
        return audio.astype(np.float32)
    return soxr.resample(audio.astype(np.float32), rate, target, quality="VHQ").astype(np.float32)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(n, c) -> (n, 1): the channels' mean."""
    return audio.mean(axis=1, keepdims=True, dtype=np.float32)


def normalise_loudness(audio: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale to `dbfs` RMS, then down to a peak of at most 0.98; silence stays silence."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    if rms < 1e-6:
        return audio
    audio = audio * (10 ** (dbfs / 20) / rms)
    peak = float(np.max(np.abs(audio)))
    return (audio * (PEAK / peak) if peak > PEAK else audio).astype(np.float32)


def load_for_model(path: str | pathlib.Path, sample_rate: int, *, downmix: bool = False,
                   any_rate: bool = False) -> tuple[np.ndarray, AudioInfo]:
    """A file to encode: float32 (n, 1) at the model's rate. A user's mistake is one `UserError` line: a file that
    cannot be read or holds no samples, several channels without `downmix`, a rate under half or over twice the
    model's without `any_rate` (upsampling invents no content above the file's Nyquist frequency)."""
    try:
        audio, rate = read_audio(path)
    except BadSample as e:
        raise UserError(f"cannot read audio from {str(path)!r}: {e}") from None
    info = AudioInfo(rate, audio.shape[1], audio.shape[0])
    if info.channels != 1 and not downmix:
        raise UserError(f"{str(path)!r} has {info.channels} channels and the DAC-VAE is mono: pass --downmix to "
                        f"average them")
    if not 0.5 <= rate / sample_rate <= 2 and not any_rate:
        raise UserError(f"{str(path)!r} is sampled at {rate} Hz, far from the model's {sample_rate} Hz: pass "
                        f"--resample to convert it anyway")
    return resample(to_mono(audio), rate, sample_rate), info


def find_audio_files(root: str | pathlib.Path) -> list[str]:
    root = pathlib.Path(root)
    if not root.is_dir():
        raise UserError(f"data root {str(root)!r} is not a directory")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())


def index_audio_folder(root: str | pathlib.Path, seconds: float,
                       threads: int = 8) -> tuple[list[tuple[str, AudioInfo]], list[tuple[str, str]]]:
    """-> (usable (path, info), bad (path, reason)): each file probed once (threads; both readers release the GIL)."""
    files = find_audio_files(root)

    def check(rel: str):
        try:
            info = probe_audio(pathlib.Path(root) / rel)
        except BadSample as e:
            return rel, None, str(e)
        if info.seconds < seconds:
            return rel, None, f"shorter ({info.seconds:.2f} s) than data.audio.seconds ({seconds:g} s)"
        return rel, info, ""

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(check, files))
    return ([(rel, info) for rel, info, _ in results if info is not None],
            [(rel, why) for rel, info, why in results if info is None])


class AudioFolderClips:
    """Step s -> {"audio": (b, n, 1), "bad": [(path, reason)]}: a pure function of (seed, s), picklable for Grain
    workers."""

    def __init__(self, root: str, entries: list[tuple[str, AudioInfo]], batch_size: int, sample_rate: int,
                 num_samples: int, loudness_dbfs: float, seed: int):
        if not entries:
            raise UserError(f"no usable audio files under {root!r} (suffixes: {', '.join(AUDIO_SUFFIXES)})")
        self.root, self.entries, self.batch_size = pathlib.Path(root), entries, batch_size
        self.sample_rate, self.num_samples = sample_rate, num_samples
        self.loudness_dbfs, self.seed = loudness_dbfs, seed

    def order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.entries))

    def clip(self, index: int, step: int, slot: int) -> np.ndarray:
        """A random crop of entry `index` at the model's rate, mono, loudness-normalised."""
        rel, info = self.entries[index]
        rng = np.random.default_rng([self.seed, step, slot])
        need = int(np.ceil(self.num_samples * info.sample_rate / self.sample_rate)) + 64  # + the resampler's edge
        start = int(rng.integers(0, max(info.frames - need, 0) + 1))
        audio, rate = read_audio(self.root / rel, start, need)
        audio = resample(to_mono(audio), rate, self.sample_rate)[:self.num_samples]
        if len(audio) < self.num_samples:
            raise BadSample(f"shorter than its header says ({len(audio)} samples)")
        return normalise_loudness(audio, self.loudness_dbfs)

    def __call__(self, step: int) -> dict:
        count = len(self.entries)
        first = step * self.batch_size
        clips, bad, k, orders = [], [], 0, {}
        while len(clips) < self.batch_size:
            if k >= count + self.batch_size:
                raise UserError(f"no readable audio under {str(self.root)!r}: {len(bad)} files failed in one batch")
            position = first + len(clips) + k
            epoch = position // count
            if epoch not in orders:
                orders[epoch] = self.order(epoch)
            index = int(orders[epoch][position % count])
            try:
                clips.append(self.clip(index, step, len(clips)))
            except BadSample as e:
                bad.append((self.entries[index][0], str(e)))
                k += 1
        return {"audio": np.stack(clips), "bad": bad}


class AudioFolderBatches(MonitoredBatches):
    """The iterator the DAC-VAE task trains on from a folder: {"audio"} per step, bad files counted; its state goes
    into the checkpoint, so a resumed run continues the exact stream."""

    def __init__(self, d: DataConfig, sample_rate: int, num_samples: int, start_step: int, stop_step: int,
                 state: dict | None = None):
        entries, bad = index_audio_folder(d.root, num_samples / sample_rate)
        if state is not None:
            start_step = int(state["step"])
        log.info("audio folder %s: %d usable files, %d bad at start-up", d.root, len(entries), len(bad))
        step_fn = AudioFolderClips(d.root, entries, d.batch_size, sample_rate, num_samples, d.audio.loudness_dbfs,
                                   d.seed)
        self._start(step_fn, start_step, stop_step, d.num_workers,
                    BadDataMonitor(d.max_bad_samples, state.get("bad") if state else None), bad)
