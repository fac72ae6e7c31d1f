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
