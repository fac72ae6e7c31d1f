"""Test session setup: 8 fake CPU devices for sharding tests (plus mgjax's XLA:CPU fusion flag, as every entry point
sets it), and absl flags parsed for Grain workers.

Both must happen before JAX starts its backend, so they run at conftest import, before any test module imports jax.
"""

import os
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mgjax.cli import add_xla_flags  # noqa: E402  (imports no JAX)

add_xla_flags(num_cpu_devices=8)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# The user-level cache (~/.cache/mgjax) stays off: runs are hermetic. Instead one persistent compilation cache lives
# for the test session and its child processes (which inherit these variables, and JAX reads them at import): the
# many runs that compile the same train step (resume, fault-tolerance and CLI tests) compile it once. tests/test_cli.py
# checks mgjax's own cache setting.
os.environ.setdefault("MGJAX_COMPILATION_CACHE_DIR", "off")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="mgjax-test-xla-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

from absl import flags  # noqa: E402

flags.FLAGS.mark_as_parsed()

import dataclasses  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

from mgjax.config import (CodecConfig, Config, DataConfig, MeshConfig, OptimConfig, SampleConfig, TextConfig,  # noqa: E402
                          TextEncoderConfig, TrainConfig, VideoModelConfig)

CONFIGS = REPO / "configs"


def micro_config(**train_overrides) -> Config:
    """A config small enough to compile and step in seconds: 2 layers of width 32 on 8-frame 16x16 clips."""
    return Config(
        name="micro",
        model=VideoModelConfig(num_layers=2, width=32, ffn_width=64, num_heads=2, patch_size=(1, 2, 2),
                               in_channels=48, max_patches=(8, 2, 2), dtype="float32", remat="none"),
        text=TextConfig(encoders=(TextEncoderConfig(name="ul2", vocab_size=256, width=16, num_layers=1, num_heads=2,
                                                    head_dim=8, ffn_width=32, max_length=32, trainable=True,
                                                    tokenizer_model="bpe"),), drop_prob=0.2),
        codec=CodecConfig(kind="space_to_depth", factors=(1, 4, 4)),
        data=DataConfig(num_frames=8, height=16, width=16, fps=16, fps_prefix=False, batch_size=8),
        sample=SampleConfig(num_steps=4, linear_steps=2, cfg_scale=2.0, batch_size=4),
        optim=OptimConfig(learning_rate=1e-3, warmup_steps=2, ema_decay=0.9),
        train=dataclasses.replace(TrainConfig(steps=4, log_every=2, checkpoint_every=2), **train_overrides),
        mesh=MeshConfig(data=-1),
    )


def upsample_config(**train):
    """The micro backbone as a 2x upsampler with the conditioning skip (the tiny config's): 8x8 inputs -> 16x16
    outputs, windows of 8 frames sharing 2."""
    from mgjax.config.data import UpsampleDataConfig
    from mgjax.config.upsample import upsampler_model

    cfg = micro_config(**train)
    return dataclasses.replace(
        cfg, task="upsample", model=upsampler_model(cfg.model, scale=2, cond_skip=True),
        data=dataclasses.replace(cfg.data, source="natural_clips", num_frames=4, batch_size=4,
                                 upsample=UpsampleDataConfig(tae_prob=0.0)),
        sample=dataclasses.replace(cfg.sample, cfg_scale=1.0, window_frames=8, window_overlap=2))


def clip_config(**train):
    """A micro CLIP (towers of width 32 on 16x16 stills, embeddings of 32) that learns colours and shapes in 300
    steps of 64 stills (~10 s)."""
    from mgjax.config.clip import CLIPModelConfig
    from mgjax.config.vision import VisionEncoderConfig

    text = TextEncoderConfig(name="clip_text", kind="clip", vocab_size=256, width=32, num_layers=1, num_heads=2,
                             head_dim=16, ffn_width=64, activation="gelu", norm_eps=1e-5, max_length=32,
                             projection_dim=32, tokenizer_model="bpe", trainable=True, sharding="replicated")
    vision = VisionEncoderConfig(image_size=16, patch_size=4, width=32, num_layers=2, num_heads=2, ffn_width=64,
                                 activation="gelu", projection_dim=32)
    return Config(name="micro_clip", task="clip", model=CLIPModelConfig(text=text, vision=vision),
                  data=DataConfig(num_frames=1, height=16, width=16, fps_prefix=False, batch_size=64),
                  optim=OptimConfig(learning_rate=3e-3, warmup_steps=20, decay="cosine", weight_decay=0.0),
                  train=TrainConfig(**{"steps": 300, "log_every": 100, "checkpoint_every": 300, **train}),
                  mesh=MeshConfig(data=-1))


def randomized_model(devices, key: int = 1, cfg: Config | None = None):
    """The (micro) text-to-video model with every parameter perturbed, so its zero-initialised gates and head are open
    and each layer does something a test can see."""
    from flax import nnx

    from mgjax.models.t2v import TextToVideo
    from mgjax.parallel.mesh import make_mesh

    with jax.set_mesh(make_mesh(MeshConfig(), devices[:1])):
        model = TextToVideo(cfg or micro_config(), rngs=nnx.Rngs(0))
    graphdef, state = nnx.split(model)

    @jax.jit  # one program, not one per parameter shape
    def perturb(state):
        leaves, tree = jax.tree.flatten(state)
        keys = jax.random.split(jax.random.key(key), len(leaves))
        noise = [0.05 * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)]
        return jax.tree.unflatten(tree, [x + n for x, n in zip(leaves, noise)])

    return nnx.merge(graphdef, perturb(state))


@pytest.fixture
def micro_cfg() -> Config:
    return micro_config()


@pytest.fixture(scope="session")
def devices():
    assert len(jax.devices()) == 8, "tests expect 8 fake CPU devices (set in tests/conftest.py)"
    return jax.devices()


PARITY_PYTHON = REPO / ".venv-parity" / "bin" / "python"


@pytest.fixture(scope="session")
def micro_run(tmp_path_factory, devices):
    """(config, workdir) of a micro run trained 4 steps with checkpoints at 2 and 4, shared by every test that reads a
    trained run (tests that change it work on a copy)."""
    from mgjax.train.loop import train

    workdir = tmp_path_factory.mktemp("micro_run")
    cfg = micro_config(steps=4, log_every=1, checkpoint_every=2)
    train(cfg, workdir, devices=devices[:1], verbose=False)
    return cfg, workdir


@pytest.fixture(scope="session")
def clip_run(tmp_path_factory, devices):
    """(config, workdir) of the micro CLIP trained 300 steps: the vision encoder and evaluator other tests load."""
    from mgjax.train.loop import train

    workdir = tmp_path_factory.mktemp("clip_run")
    cfg = clip_config()
    train(cfg, workdir, devices=devices[:1], verbose=False)
    return cfg, workdir


@pytest.fixture(scope="session")
def t2v_parent(tmp_path_factory, devices):
    """(model, run directory) of a micro text-to-video run whose every weight is non-zero (gates and head open), saved
    as a checkpoint: the parent of weight-surgery tests (`train.init_from`)."""
    from flax import nnx

    from mgjax.checkpoint.orbax import Checkpointer, checkpoint_dir
    from mgjax.models.t2v import trainable_filter
    from mgjax.parallel.mesh import make_mesh

    cfg = micro_config()
    model = randomized_model(devices, key=3, cfg=cfg)
    _, params, rest = nnx.split(model, trainable_filter(cfg), ...)
    params, rest = nnx.to_pure_dict(params), nnx.to_pure_dict(rest)
    directory = tmp_path_factory.mktemp("parent")
    with jax.set_mesh(make_mesh(cfg.mesh, devices[:1])):
        ckpt = Checkpointer(checkpoint_dir(directory), async_save=False)
        ckpt.save(7, {"params": params, "ema": params, "rest": rest})
        ckpt.close()
    return model, directory


@pytest.fixture(scope="session")
def parity_python() -> pathlib.Path:
    """The torch + transformers interpreter of the parity tests (made by `make test`). `make test` sets
    MGJAX_REQUIRE_PARITY=1, so there a missing environment fails instead of skipping."""
    if PARITY_PYTHON.is_file():
        return PARITY_PYTHON
    if os.environ.get("MGJAX_REQUIRE_PARITY") == "1":
        pytest.fail(f"parity environment {PARITY_PYTHON} is missing (make parity-env creates it)")
    pytest.skip("no parity environment (.venv-parity); `make parity-env` creates it")


def write_clip_vocab(directory: pathlib.Path, merges=()) -> pathlib.Path:
    """A CLIP-format vocab.json + merges.txt: the 256 byte symbols, the same with </w>, one entry per merge, then the
    special tokens (CLIP's own layout, at toy size)."""
    import json

    from mgjax.models.text.clip_tokenizer import BOS, EOS, bytes_to_unicode

    symbols = [bytes_to_unicode()[b] for b in range(256)]
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS, EOS]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps({s: i for i, s in enumerate(vocab)}), "utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), "utf-8")
    return directory
