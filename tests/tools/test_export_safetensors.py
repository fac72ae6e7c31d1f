"""`export --format safetensors`: a run's EMA weights in one safetensors file with the config beside it, loaded for
sampling (and as a codec) without the Orbax run, bit for bit; a file that does not fit the model is one line; an
existing OUT is replaced only with --overwrite."""

import dataclasses
import json
import pathlib
import shutil

import jax
import numpy as np
import pytest
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from mgjax.checkpoint.restore import load_codec
from mgjax.checkpoint.safetensors_weights import WEIGHTS, export_metadata, flat_names, load_exported, write_export
from mgjax.commands import dispatch
from mgjax.config import CodecConfig, MeshConfig
from mgjax.convert.safetensors import SafetensorsFile, read_metadata, save_file
from mgjax.errors import UserError
from mgjax.parallel.mesh import make_mesh
from mgjax.pipelines.t2v import T2VSampler
from mgjax.pipelines.video_io import write_video
from mgjax.tools.export import export_safetensors
from mgjax.train.tasks import load_config

REPO = pathlib.Path(__file__).resolve().parents[2]
PROMPTS = ["a red circle moving left"]


@pytest.fixture(scope="module")
def exported(micro_run, tmp_path_factory):
    """(config, run, export, the run's sampler) for the shared micro run, exported once through the command."""
    cfg, run = micro_run
    out = tmp_path_factory.mktemp("exports") / "micro"
    assert dispatch(["export", "--workdir", str(run), "--out", str(out)]) == 0  # safetensors is the default
    return cfg, run, out, T2VSampler(cfg, run, devices=jax.devices()[:1])


def test_export_holds_the_ema_weights_with_the_config_and_samples_like_the_run(exported, tmp_path, monkeypatch):
    cfg, _, out, sampler = exported
    assert sorted(p.name for p in out.iterdir()) == ["config.json", WEIGHTS, "tokenizer_ul2.model"]
    meta = export_metadata(out)
    assert {k: meta[k] for k in ("config", "task", "step", "items")} == {"config": "micro", "task": "t2v",
                                                                          "step": "4", "items": "ema,rest"}
    assert meta["mgjax_version"]
    # the tensors are the run's EMA weights (the micro encoder trains, so `rest` is empty), names, shapes and values
    ema = flat_names(sampler.weights[0], "ema")
    f = SafetensorsFile(out / WEIGHTS)
    assert {k: f.shape(k) for k in f} == {k: tuple(v.shape) for k, v in ema.items()}
    assert all(np.array_equal(f[k], np.asarray(v)) and f[k].dtype == v.dtype for k, v in ema.items())
    # sampling the export without the Orbax run gives the run's videos bit for bit
    from_export = T2VSampler(cfg, out, devices=jax.devices()[:1])
    assert from_export.step == 4
    video = sampler.sample(PROMPTS, seed=1, num_steps=2, progress=False)
    assert np.array_equal(from_export.sample(PROMPTS, seed=1, num_steps=2, progress=False), video)
    # and through the command, with the config.json beside the weights
    every_device = jax.devices
    monkeypatch.setattr(jax, "devices", lambda *a: every_device(*a)[:1])
    assert dispatch(["sample", "--workdir", str(out), "--prompt", PROMPTS[0], "--seed", "1", "--steps", "2",
                     "--out", str(tmp_path / "export.mp4")]) == 0
    write_video(tmp_path / "run", video[0], fps=cfg.data.fps)
    assert (tmp_path / "export.gif").read_bytes() == (tmp_path / "run.gif").read_bytes()


def tampered(out: pathlib.Path, where: pathlib.Path, change) -> pathlib.Path:
    """A copy of the export whose tensors `change` edited (name -> array), written with the export's metadata."""
    shutil.copytree(out, where)
    f = SafetensorsFile(out / WEIGHTS)
    tensors = change({k: np.array(f[k]) for k in f})
    save_file(tensors, where / WEIGHTS, metadata=read_metadata(out / WEIGHTS))
    return where


def test_an_export_that_does_not_fit_the_model_is_one_line(exported, tmp_path):
    cfg, _, out, sampler = exported
    names = sorted(SafetensorsFile(out / WEIGHTS))
    renamed = tampered(out, tmp_path / "renamed",
                       lambda t: {(k + "_x" if k == names[0] else k): v for k, v in t.items()})
    with pytest.raises(UserError) as e:
        T2VSampler(cfg, renamed, devices=jax.devices()[:1])
    message = str(e.value)
    assert "\n" not in message and "2 arrays differ" in message
    assert f"{names[0]} (saved absent" in message and f"{names[0]}_x (saved " in message

    reshaped = tampered(out, tmp_path / "reshaped",
                        lambda t: dict(t, **{names[1]: np.zeros((3, 5), t[names[1]].dtype)}))
    with pytest.raises(UserError) as e:
        load_exported({"ema": sampler.weights[0]}, reshaped)
    assert "\n" not in str(e.value) and f"1 arrays differ, e.g. {names[1]} (saved (3, 5), model " in str(e.value)

    with pytest.raises(UserError, match="holds ema, rest, not params"):  # the raw weights are not exported
        T2VSampler(cfg, out, devices=jax.devices()[:1], use_ema=False)


def test_export_never_replaces_out_without_overwrite(exported, tmp_path):
    _, run, out, _ = exported
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    command = ["export", "--workdir", str(run), "--out", str(target)]
    with pytest.raises(UserError) as e:
        dispatch(command)
    assert str(e.value) == f"--out {target} already exists; pass --overwrite to replace it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"] and (target / "notes.txt").read_text() == "keep me"
    assert dispatch(command + ["--overwrite"]) == 0
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no .partial or .old left behind
    for bad in (run, run.parent):
        with pytest.raises(UserError, match="the run itself|holds the run"):
            dispatch(["export", "--workdir", str(run), "--out", str(bad), "--overwrite"])
    assert (run / "checkpoints").is_dir()


def test_the_committed_tae_exported_loads_as_the_same_codec(tmp_path):
    """assets/tae_shapes (an Orbax export) -> safetensors: load_codec on either gives the same weights bit for bit
    and the same latent statistics, so the same encode and decode (the codec's code is shared)."""
    cfg = load_config(REPO / "configs" / "tae_shapes.py")
    assert export_safetensors(cfg, REPO / "assets" / "tae_shapes", tmp_path / "tae") == 4000
    assert sorted(p.name for p in (tmp_path / "tae").iterdir()) == ["config.json", "latent_stats.json", WEIGHTS]
    assert export_metadata(tmp_path / "tae")["items"] == "params"
    assert json.loads((tmp_path / "tae" / "config.json").read_text())["name"] == "tae_shapes"
    codec = CodecConfig(kind="tae", factors=(4, 4, 4), latent_channels=16, tae=cfg.model)
    with jax.set_mesh(make_mesh(MeshConfig(), jax.devices()[:1])):
        run, export = (load_codec(dataclasses.replace(codec, checkpoint=str(source)))
                       for source in (REPO / "assets" / "tae_shapes", tmp_path / "tae"))
    for a, b in ((run.shift, export.shift), (run.scale, export.scale)):
        assert np.array_equal(a, b)
    run_weights, export_weights = (nnx.to_pure_dict(nnx.state(c.model, nnx.Param)) for c in (run, export))
    assert jax.tree.structure(run_weights) == jax.tree.structure(export_weights)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype
               for a, b in zip(jax.tree.leaves(run_weights), jax.tree.leaves(export_weights)))


def test_bf16_weights_stay_bf16_and_load_sharded_like_the_target(tmp_path, devices):
    weights = {"blocks": {0: {"kernel": jax.random.normal(jax.random.key(0), (4, 6), jax.numpy.bfloat16)}},
               "scale": np.float32(2.5) * np.ones((3,), np.float32)}
    write_export({"params": weights}, tmp_path, {"step": 7})
    f = SafetensorsFile(tmp_path / WEIGHTS)
    assert f.entries["params/blocks/0/kernel"]["dtype"] == "BF16" and sorted(f) == ["params/blocks/0/kernel",
                                                                                     "params/scale"]
    mesh = jax.sharding.Mesh(np.array(devices[:2]), ("x",))
    target = {"blocks": {0: {"kernel": jax.ShapeDtypeStruct((4, 6), jax.numpy.bfloat16,
                                                            sharding=NamedSharding(mesh, P("x")))}},
              "scale": jax.ShapeDtypeStruct((3,), np.float32, sharding=NamedSharding(mesh, P()))}
    loaded = load_exported({"params": target}, tmp_path)["params"]
    kernel = loaded["blocks"][0]["kernel"]
    assert kernel.dtype == jax.numpy.bfloat16 and kernel.sharding == target["blocks"][0]["kernel"].sharding
    assert np.array_equal(np.asarray(kernel), np.asarray(weights["blocks"][0]["kernel"]))
    assert np.array_equal(np.asarray(loaded["scale"]), weights["scale"])
