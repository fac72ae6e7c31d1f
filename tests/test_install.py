"""The install variants (`make install`, `install-tpu`, `install-cuda`, `install-cpu`; docs/install.md): every extra the
Makefile syncs exists in pyproject.toml, the accelerator extras pin runtimes built for the pinned jax, and uv.lock
holds them at those versions. Reads files only (no network, no uv)."""

import pathlib
import re
import tomllib

import pytest
from packaging.requirements import Requirement

REPO = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCK = tomllib.loads((REPO / "uv.lock").read_text())
MAKEFILE = re.sub(r"#.*", "", (REPO / "Makefile").read_text())  # the rules, without comments
CUDA_PLUGINS = ("jax-cuda12-plugin", "jax-cuda12-pjrt")


def _pins(requirements: list[str]) -> dict[str, str]:
    """name -> exact version for `name[extras]==version` requirements (anything else fails: the lock must pin)."""
    pins = {}
    for line in requirements:
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one specifier
        assert spec.operator == "==", f"{line!r} is not pinned with =="
        pins[req.name] = spec.version
    return pins


def _extras() -> dict[str, list[str]]:
    return PYPROJECT["project"]["optional-dependencies"]


def _locked(name: str) -> list[dict]:
    return [p for p in LOCK["package"] if p["name"] == name]


def _makefile_variants() -> dict[str, list[str]]:
    """variant -> its --extra names, from the Makefile's `EXTRAS_<variant> := --extra ...` lines."""
    found = re.findall(r"^EXTRAS_(\w+)\s*:=(.*)$", MAKEFILE, flags=re.M)
    return {variant: re.findall(r"--extra\s+(\S+)", flags) for variant, flags in found}


def test_cuda_extra_pins_the_plugin_built_for_the_pinned_jax():
    core = _pins(PYPROJECT["project"]["dependencies"])
    cuda = _pins(_extras()["cuda"])
    assert core["jax"] == core["jaxlib"]
    for name in CUDA_PLUGINS:
        assert cuda[name] == core["jax"], f"{name}=={cuda[name]} but jax=={core['jax']}"
    (plugin,) = [Requirement(r) for r in _extras()["cuda"] if Requirement(r).name == "jax-cuda12-plugin"]
    assert plugin.extras == {"with-cuda"}  # CUDA, cuDNN and NCCL come as wheels: only a driver is needed


def test_tpu_extra_pins_libtpu():
    assert set(_pins(_extras()["tpu"])) == {"libtpu"}


def test_every_extra_the_makefile_installs_exists():
    variants = _makefile_variants()
    assert set(variants) == {"tpu", "cuda", "cpu"}
    defined = set(_extras())
    for variant, extras in variants.items():
        assert "dev" in extras, variant  # every variant can run the tests
        assert set(extras) <= defined, f"Makefile variant {variant} asks for {set(extras) - defined}"
    assert set(re.findall(r"--extra\s+(\S+)", MAKEFILE)) <= defined  # no other --extra anywhere
    assert variants["tpu"] == ["dev", "tpu"] and variants["cuda"] == ["dev", "cuda"] and variants["cpu"] == ["dev"]
    for target, variant in (("install", "tpu"), ("install-tpu", "tpu"), ("install-cuda", "cuda"),
                            ("install-cpu", "cpu")):
        rule = re.search(rf"^(?:[\w-]+ )*{re.escape(target)}(?: [\w-]+)*:\s*(.*)$", MAKEFILE, flags=re.M)
        assert rule and rule.group(1).split() == [f".venv/.synced-{variant}"], target


@pytest.mark.parametrize("extra", ["cuda", "tpu"])
def test_lock_holds_the_accelerator_extras_at_their_pins(extra):
    for name, version in _pins(_extras()[extra]).items():
        assert [p["version"] for p in _locked(name)] == [version], name
    (project,) = _locked("mgjax")
    assert {d["name"] for d in project["optional-dependencies"][extra]} == set(_pins(_extras()[extra]))
    assert set(project["metadata"]["provides-extras"]) == set(_extras())  # the lock was made from this pyproject


def test_cuda_and_tpu_extras_never_share_an_environment():
    pair = [{"extra": "cuda"}, {"extra": "tpu"}]
    assert pair in PYPROJECT["tool"]["uv"]["conflicts"]
    assert [{"package": "mgjax", **e} for e in pair] in LOCK["conflicts"]
