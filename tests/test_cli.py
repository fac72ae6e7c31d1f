"""The entry points turn user mistakes into one line on stderr and exit status 2."""

import os
import subprocess
import sys

import pytest

from conftest import CONFIGS, REPO


def run(*args):
    env = dict(os.environ, XLA_FLAGS="")
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("args, fragment", [
    (["train.py", "--config", str(CONFIGS / "shapes_t2v_tiny.py"), "--set", "model.widht=4"],
     "error: unknown config key 'model.widht'; valid keys in model:"),
    (["train.py", "--config", str(CONFIGS / "shapes_t2v_tiny.py"), "--set", "mesh.data=3"],
     "error: mesh data=3 fsdp=1 tensor=1 context=1 needs 3 devices but 1 are available"),
    (["sample.py", "--config", str(CONFIGS / "shapes_t2v_tiny.py"), "--workdir", "/nonexistent/run", "--prompt", "x"],
     "error: no checkpoint found in '/nonexistent/run/checkpoints'"),
    (["sample.py", "--config", str(CONFIGS / "shapes_t2v_tiny.py"), "--workdir", "/nonexistent/run", "--prompt", "x",
      "--camera-motion", "barrel roll"], "error: unknown camera motion 'barrel roll'; valid: static, pan left"),
    (["train.py", "--config", str(CONFIGS / "shapes_t2v_tiny.py"), "--set", "text.encoders.0.tokenizer=clip_bpe"],
     "error: text.encoders.0.tokenizer='clip_bpe' does not fit kind='t5'; valid: sentencepiece, byte"),
])
def test_user_errors_are_one_line(args, fragment, tmp_path):
    result = run(*args, *(["--workdir", str(tmp_path)] if args[0] == "train.py" else []))
    assert result.returncode == 2, result.stderr
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert lines[-1].startswith(fragment) and "Traceback" not in result.stderr, result.stderr


def _fresh_process(code: str, **env) -> subprocess.CompletedProcess:
    """A Python process configured as a user's would be: no JAX_PLATFORMS and no test-session cache setting."""
    session = ("JAX_PLATFORMS", "MGJAX_COMPILATION_CACHE_DIR", "JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(session)}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env=dict(clean, XLA_FLAGS="", **env))


def test_cpu_machine_with_libtpu_installed_starts_quietly():
    """libtpu (the tpu extra) is installed but this machine has no TPU chip: the entry points pick CPU without
    libtpu's start-up errors (JAX reads JAX_PLATFORMS at import, so setting the variable alone was not enough)."""
    result = _fresh_process("from mgjax.cli import set_global_flags; set_global_flags(); import jax; "
                            "print(jax.default_backend())", MGJAX_COMPILATION_CACHE_DIR="off")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cpu"
    assert "TPU" not in result.stderr and "libtpu" not in result.stderr, result.stderr


def test_persistent_compilation_cache_is_reused(tmp_path):
    """The first process stores its compiled program; a second identical process loads it (no new entries) and
    computes the same result."""
    cache = tmp_path / "cache"
    code = ("from mgjax.cli import set_global_flags; set_global_flags(); import jax, jax.numpy as jnp; "
            "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0); "
            "f = jax.jit(lambda x: jnp.sin(x) @ jnp.cos(x).T); print(float(f(jnp.ones((64, 64))).sum()))")
    first = _fresh_process(code, MGJAX_COMPILATION_CACHE_DIR=str(cache))
    assert first.returncode == 0, first.stderr
    entries = sorted(p.name for p in cache.iterdir())
    assert entries, "nothing was written to the compilation cache"
    second = _fresh_process(code, MGJAX_COMPILATION_CACHE_DIR=str(cache))
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert sorted(p.name for p in cache.iterdir()) == entries
    off = _fresh_process(code, MGJAX_COMPILATION_CACHE_DIR="off")
    assert off.returncode == 0 and off.stdout == first.stdout
