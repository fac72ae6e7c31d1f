"""Tasks are the one extension point: a task defined here, with its own model config, model and data, trains through
the shared loop, checkpoints, resumes exactly, validates its config and inspects, without touching any other file."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P

from mgjax.config import Config, DataConfig, MeshConfig, OptimConfig, TrainConfig
from mgjax.errors import UserError
from mgjax.tools.inspect import format_report, report
from mgjax.train.loop import train
from mgjax.train.tasks import Task, load_config, register_task

TRUE_WEIGHTS = np.array([1.5, -2.0, 0.5, 3.0], np.float32)


@dataclasses.dataclass(frozen=True)
class RegressionModelConfig:
    inputs: int = 4
    hidden: int = 16


class Regressor(nnx.Module):
    def __init__(self, cfg: RegressionModelConfig, *, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(cfg.inputs, cfg.hidden, rngs=rngs)
        self.out = nnx.Linear(cfg.hidden, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.gelu(self.hidden(x)))[:, 0]


@register_task
class RegressionTask(Task):
    """y = x . w from noisy samples; batch s is a function of s, so a resumed run sees what an uninterrupted one
    would."""

    name = "test_regression"
    model_config = RegressionModelConfig

    @classmethod
    def validate(cls, cfg):
        super().validate(cfg)
        if cfg.model.hidden < 1:
            raise UserError(f"model.hidden must be >= 1, got {cfg.model.hidden}")

    def build_model(self):
        return Regressor(self.cfg.model, rngs=nnx.Rngs(self.cfg.train.seed))

    def loss(self, model, batch, key):
        err = model(batch["x"]) - batch["y"]
        return jnp.mean(err ** 2), {"abs_error": jnp.mean(jnp.abs(err))}

    def abstract_batch(self, mesh, batch_size):
        sharding = NamedSharding(mesh, P(("data", "fsdp")))
        return {"x": jax.ShapeDtypeStruct((batch_size, 4), jnp.float32, sharding=sharding),
                "y": jax.ShapeDtypeStruct((batch_size,), jnp.float32, sharding=sharding)}

    def batches(self, start_step, data_state=None):
        b = self.cfg.data.batch_size
        for step in range(start_step, self.cfg.train.steps):
            rng = np.random.default_rng([self.cfg.data.seed, step])
            x = rng.normal(size=(b, 4)).astype(np.float32)
            yield {"x": x, "y": x @ TRUE_WEIGHTS + 0.01 * rng.normal(size=b).astype(np.float32)}


def regression_config(steps: int = 60) -> Config:
    return Config(name="regression", task="test_regression", model=RegressionModelConfig(),
                  data=DataConfig(batch_size=8), optim=OptimConfig(learning_rate=3e-2, warmup_steps=5, ema_decay=0.0),
                  train=TrainConfig(steps=steps, log_every=10, checkpoint_every=20), mesh=MeshConfig(data=-1))


def losses(workdir) -> dict[int, float]:
    return {r["step"]: r["train/loss"] for r in map(json.loads, (workdir / "metrics.jsonl").read_text().splitlines())}


def test_a_task_defined_here_trains_checkpoints_and_resumes(tmp_path, devices):
    cfg = regression_config()
    train(cfg, tmp_path / "full", devices=devices[:1], verbose=False)
    full = losses(tmp_path / "full")
    assert full[60] < 0.05 * full[10], full  # it learned
    assert sorted(int(p.name) for p in (tmp_path / "full" / "checkpoints").iterdir() if p.name.isdigit()) == [40, 60]
    train(cfg, tmp_path / "resumed", devices=devices[:1], verbose=False, stop_after=30)
    train(cfg, tmp_path / "resumed", devices=devices[:1], verbose=False)
    assert losses(tmp_path / "resumed") == full  # the same numbers, interrupted or not


def test_a_task_defined_here_inspects_and_validates_its_config(tmp_path):
    cfg = regression_config()
    r = report(cfg)
    assert r["parameters"]["test_regression"] == 4 * 16 + 16 + 16 + 1
    assert "test_regression/hidden" in format_report(cfg, r)
    path = tmp_path / "regression.py"  # an experiment file, as a user writes one
    path.write_text("from test_task_registry import regression_config\n\n\ndef get_config():\n"
                    "    return regression_config()\n")
    assert load_config(path, ["model.hidden=8"]).model.hidden == 8
    with pytest.raises(UserError, match="model.hidden must be >= 1"):
        load_config(path, ["model.hidden=0"])


def test_a_config_whose_model_does_not_fit_its_task_is_one_line():
    from mgjax.config import TAEConfig
    from mgjax.train.tasks import validate

    with pytest.raises(UserError, match="task 'test_regression' trains a RegressionModelConfig; the config's model "
                                        "is a TAEConfig"):
        validate(dataclasses.replace(regression_config(), model=TAEConfig()))
    with pytest.raises(UserError, match="unknown task 'nope'; registered tasks: .*t2v.*tae"):
        validate(dataclasses.replace(regression_config(), task="nope"))


@pytest.mark.tpu_aot
def test_the_tpu_planner_compiles_a_task_defined_here():
    """`python -m mgjax aot` asks the task for its abstract state, batch and step, so any task compiles for a TPU
    slice (libtpu from the tpu extra; no TPU needed)."""
    import os

    pytest.importorskip("libtpu", reason="the tpu extra (libtpu) compiles for TPU; `make test` installs it")
    os.environ.setdefault("TPU_ACCELERATOR_TYPE", "v5p-8")
    os.environ.setdefault("TPU_SKIP_MDS_QUERY", "1")
    from mgjax.tools.aot import plan

    r = plan(regression_config(), "v5p-8")
    assert r["task"] == "test_regression" and r["global_batch"] == 4 and r["fits"]
    assert r["mesh"] == {"data": 4, "fsdp": 1, "tensor": 1, "context": 1}
    assert r["model_tflops_per_step"] > 0  # XLA's count: the task gives no analytic FLOPs


def test_every_built_in_task_names_an_evaluator_that_exists():
    import importlib

    from mgjax.train.tasks import TASKS

    for name in ("t2v", "tae"):
        evaluator = importlib.import_module(TASKS[name].evaluator)
        assert callable(evaluator.evaluate) and callable(evaluator.summary)
