"""A task is one trainable system (text-to-video, the TAE, ...): the only place that knows what its config holds, how
its state is built (concretely, or abstractly for `inspect` and the AOT planner), which step runs in which phase of
training, what its batches are and how it is evaluated. The loop, `inspect`, `aot`, `export`, `average`, validation
and the mesh checks ask the task; a new system is a task file + a model + a config.

A minimal task implements `build_model`, `loss` and `batches` (and `abstract_batch` for AOT); the defaults give it
a train state (params, optimizer state, step), a step with the non-finite guard, checkpoints, resume and `inspect`.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any, Callable, ClassVar, Hashable, Iterator, Mapping

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec as P

from mgjax.config.mesh import MeshConfig
from mgjax.config.schema import Config
from mgjax.errors import UserError
from mgjax.nn.params import path_keys
from mgjax.parallel.mesh import make_mesh
from mgjax.parallel.rules import Rules
from mgjax.train.guard import guarded_update, skipped
from mgjax.train.optim import make_optimizer

State = dict[str, Any]


class Task:
    name: ClassVar[str]
    model_config: ClassVar[type]  # the class cfg.model must be
    loss_config: ClassVar[type | None] = None  # the class cfg.loss must be (None: the task has no loss section)
    rules: ClassVar[Rules] = (("batch", ("data", "fsdp")),)  # how batches shard
    # The module under mgjax/eval whose evaluate(cfg, workdir, num) and summary(result) evaluate a run (named, not
    # imported: evaluation sits above training).
    evaluator: ClassVar[str | None] = None
    # State items a run needs for inference (what `export` keeps), and those of them `average` averages.
    inference_items: ClassVar[tuple[str, ...]] = ("params",)
    averaged_items: ClassVar[tuple[str, ...]] = ("params",)
    # The weights `export --format safetensors` writes: what sampling reads (the EMA weights where the task keeps them).
    export_items: ClassVar[tuple[str, ...]] = ("params",)
    # The config's sections this task reads (what a run prints; config.json keeps all of them).
    config_sections: ClassVar[tuple[str, ...]] = ("model", "loss", "data", "optim", "train", "eval", "mesh")
    # Parameters that may be wider than a parent run's along one axis (weight surgery, mgjax/checkpoint/surgery.py).
    widenable: ClassVar[Mapping[tuple[str, ...], int]] = {}

    def __init__(self, cfg: Config, workdir: str | pathlib.Path | None = None, *, abstract: bool = False):
        """`abstract`: no tokenizer, codec weights or data are loaded (inspect, the AOT planner, benchmarks on
        synthetic batches); the state can still be built, abstractly or concretely."""
        self.cfg = cfg
        self.tx = make_optimizer(cfg.optim, cfg.train.steps)
        self.graphdef = None

    # -- configuration ---------------------------------------------------------------------------------------------

    @classmethod
    def validate(cls, cfg: Config) -> None:
        """Device-free checks of what this task needs of the config, beyond the task-independent sections."""
        if not isinstance(cfg.model, cls.model_config):
            raise UserError(f"task {cls.name!r} trains a {cls.model_config.__name__}; the config's model is a "
                            f"{type(cfg.model).__name__}")
        if cls.loss_config is None and cfg.loss is not None:
            raise UserError(f"task {cls.name!r} has no loss section; remove loss={type(cfg.loss).__name__}(...)")
        if cls.loss_config is not None and not isinstance(cfg.loss, cls.loss_config):
            raise UserError(f"task {cls.name!r} needs loss={cls.loss_config.__name__}(...) in the config")

    def check_mesh(self, mesh_shape: dict[str, int]) -> None:
        """Checks that need the mesh's actual sizes (an axis given as -1 is sized only when the devices are known)."""

    def check_state(self, state: State, mesh_shape: dict[str, int], verbose: bool) -> None:
        """Checks of the built state on the mesh (e.g. that parameters are sharded as the preset intends)."""

    # -- state -----------------------------------------------------------------------------------------------------

    def build_model(self) -> nnx.Module:
        """The model, under the active mesh (parameters come out sharded by their rules)."""
        raise NotImplementedError

    def init_state(self, fresh: bool) -> State:
        """The concrete train state under the active mesh. `fresh`: no checkpoint of this run will be restored over
        it (pretrained or parent weights are loaded then)."""
        self.graphdef, params = nnx.split(self.build_model())
        params = nnx.to_pure_dict(params)
        return {"params": params, "opt_state": jax.jit(self.tx.init)(params), "step": replicated_zero()}

    def abstract_state(self, mesh: jax.sharding.Mesh) -> State:
        """The train state as ShapeDtypeStructs with shardings on `mesh`: nothing is allocated, whatever the size."""
        with jax.set_mesh(mesh):
            self.graphdef, params = nnx.split(nnx.eval_shape(self.build_model))
        params = on_mesh(nnx.to_pure_dict(params), mesh)
        return {"params": params, "opt_state": abstract_opt_state(self.tx, params, mesh), "step": abstract_step(mesh)}

    # -- training --------------------------------------------------------------------------------------------------

    def phase(self, step: int) -> Hashable:
        """Which compiled step runs at `step` (a task may switch losses on at configured steps)."""
        return None

    def loss(self, model: nnx.Module, batch: Any, key: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """(loss, metrics) of one batch, for the default step."""
        raise NotImplementedError

    def make_step(self, phase: Hashable) -> Callable[[State, Any], tuple[State, dict[str, jax.Array]]]:
        """(state, batch) -> (state, metrics): gradients of `loss`, an optimizer update, the non-finite guard."""
        graphdef, tx, seed = self.graphdef, self.tx, self.cfg.train.seed

        def objective(params, batch, key):
            return self.loss(nnx.merge(graphdef, params), batch, key)

        def step(state, batch):
            key = jax.random.fold_in(jax.random.key(seed), state["step"])
            (loss, metrics), grads = jax.value_and_grad(objective, has_aux=True)(state["params"], batch, key)
            new_state, grad_norm, finite = guarded_update(state, grads, tx, loss)
            return new_state, {**metrics, "loss": loss, "grad_norm": grad_norm, "skipped": skipped(finite)}

        return step

    def batches(self, start_step: int, data_state: dict | None = None) -> Iterator[Any]:
        """Host batches for steps start_step, start_step + 1, ... (a resumed run gets exactly the batches an
        uninterrupted one would have had)."""
        raise NotImplementedError

    def data_state(self) -> dict | None:
        """The input pipeline's state to checkpoint (None: the stream is a function of the step alone)."""
        return None

    def abstract_batch(self, mesh: jax.sharding.Mesh, batch_size: int) -> Any:
        """One global batch as ShapeDtypeStructs sharded by `rules` (the AOT planner compiles the step on it)."""
        raise UserError(f"task {self.name!r} gives no abstract batch, so it cannot be compiled ahead of time")

    def model_flops(self, batch_size: int) -> float | None:
        """Model FLOPs of one training step (forward + backward), if known analytically (None: XLA's count)."""
        return None

    # -- inspection ------------------------------------------------------------------------------------------------

    def report(self) -> dict:
        """What `inspect` prints: parameter counts per top-level module (shapes only)."""
        state = self.abstract_state(one_device_mesh())
        params = state["params"]
        counts = {f"{self.name}/{k}": count(v) for k, v in params.items()} if isinstance(params, dict) else {}
        counts[self.name] = count(params)
        return {"config": self.cfg.name, "task": self.name, "parameters": counts}

    @staticmethod
    def format_report(r: dict) -> str:
        lines = [f"config: {r['config']} (task {r['task']})", "parameters:"]
        lines += [f"  {k:<28} {v:>16,d}  ({v / 1e9:.3f}B)" for k, v in r["parameters"].items()]
        return "\n".join(lines + r.get("notes", []))



class AdversarialTask(Task):
    """A task whose state also holds a discriminator (`disc`, `disc_opt_state`), trained with AdamW at
    `loss.disc_learning_rate` (0: the generator's) whatever the generator's optimizer: GAN discriminators are tuned
    with Adam."""

    def __init__(self, cfg: Config, workdir: str | pathlib.Path | None = None, *, abstract: bool = False):
        super().__init__(cfg, workdir, abstract=abstract)
        disc_lr = cfg.loss.disc_learning_rate or cfg.optim.learning_rate
        self.disc_tx = make_optimizer(dataclasses.replace(cfg.optim, learning_rate=disc_lr, optimizer="adamw"),
                                      cfg.train.steps)
        self.disc_graphdef = None

    def build_discriminator(self) -> nnx.Module:
        raise NotImplementedError

    def init_state(self, fresh: bool) -> State:
        self.graphdef, params = nnx.split(self.build_model())
        self.disc_graphdef, disc = nnx.split(self.build_discriminator())
        params, disc = nnx.to_pure_dict(params), nnx.to_pure_dict(disc)
        return {"params": params, "opt_state": jax.jit(self.tx.init)(params), "disc": disc,
                "disc_opt_state": jax.jit(self.disc_tx.init)(disc), "step": replicated_zero()}

    def abstract_state(self, mesh: jax.sharding.Mesh) -> State:
        with jax.set_mesh(mesh):
            self.graphdef, params = nnx.split(nnx.eval_shape(self.build_model))
            self.disc_graphdef, disc = nnx.split(nnx.eval_shape(self.build_discriminator))
        params, disc = on_mesh(nnx.to_pure_dict(params), mesh), on_mesh(nnx.to_pure_dict(disc), mesh)
        return {"params": params, "opt_state": abstract_opt_state(self.tx, params, mesh), "disc": disc,
                "disc_opt_state": abstract_opt_state(self.disc_tx, disc, mesh), "step": abstract_step(mesh)}

def count(tree) -> int:
    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))


def replicated_zero() -> jax.Array:
    """The step counter, replicated on the active mesh."""
    return jax.device_put(jnp.zeros((), jnp.int32), P())


def abstract_step(mesh: jax.sharding.Mesh) -> jax.ShapeDtypeStruct:
    """The step counter as `replicated_zero` places it."""
    return jax.ShapeDtypeStruct((), jnp.int32, sharding=NamedSharding(mesh, P()))


def one_device_mesh() -> jax.sharding.Mesh:
    return make_mesh(MeshConfig(), jax.devices()[:1])


def on_mesh(tree, mesh: jax.sharding.Mesh):
    """Abstract arrays whose shardings name an abstract mesh (nnx.eval_shape under jax.set_mesh) -> the same specs on
    `mesh`'s devices, which restoring and compiling need (shared/stack.md)."""
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=NamedSharding(mesh, a.sharding.spec)),
                        tree)


def abstract_opt_state(tx: optax.GradientTransformation, params, mesh: jax.sharding.Mesh):
    """Optimizer state placed as training places it: a moment shards like the parameter whose path ends its own (the
    moments of adamw and the masked branches of Muon alike), counters and scalars replicate."""
    by_path = {path_keys(path): leaf for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]}
    replicated = NamedSharding(mesh, P())

    def place(path, a):
        keys = path_keys(path)
        for i in range(len(keys)):
            p = by_path.get(keys[i:])
            if p is not None and p.shape == a.shape:
                return jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=p.sharding)
        return jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=replicated)

    return jax.tree_util.tree_map_with_path(place, jax.eval_shape(tx.init, params))


def state_shardings(state: State):
    return jax.tree.map(lambda a: a.sharding, state)
