import dataclasses
import json

import pytest

from conftest import CONFIGS
from mgjax.config import Config, flatten, format_config, save_config
from mgjax.config.overrides import apply_overrides
from mgjax.errors import UserError
from mgjax.train.tasks import load_config


def test_30b_preset_has_the_paper_numbers():
    cfg = load_config(CONFIGS / "moviegen_video_30b.py")
    m = cfg.model
    assert (m.num_layers, m.width, m.ffn_width, m.num_heads) == (48, 6144, 16384, 48)
    assert m.width // m.num_heads == 128
    assert m.patch_size == (1, 2, 2) and m.in_channels == 16
    assert (cfg.data.height, cfg.data.width, cfg.data.num_frames, cfg.data.fps) == (768, 768, 256, 16)
    assert cfg.codec.factors == (8, 8, 8) and cfg.codec.latent_channels == 16
    assert cfg.flow.sigma_min == 1e-5 and cfg.flow.t_sampling == "logit_normal"
    assert (cfg.flow.logit_mean, cfg.flow.logit_std) == (0.0, 1.0)
    s = cfg.sample
    assert (s.num_steps, s.schedule, s.linear_steps, s.linear_reference_steps, s.cfg_scale) == (
        50, "linear_quadratic", 25, 250, 7.5)
    assert [e.name for e in cfg.text.encoders] == ["ul2", "byt5", "metaclip"]
    assert cfg.text.encoders[2].max_length == 256  # long-prompt MetaCLIP


CONFIG_FILES = sorted(p for p in CONFIGS.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.stem)
def test_every_config_file_loads(path):
    assert isinstance(load_config(path), Config)


def test_overrides_parse_by_declared_type():
    cfg = apply_overrides(Config(), ["model.num_layers=4", "model.qk_norm=true", "optim.learning_rate=3e-4",
                                     "model.patch_size=1,4,4", "model.remat=save_dots", "text.encoders.0.name=t5x"])
    assert cfg.model.num_layers == 4 and cfg.model.qk_norm is True
    assert cfg.optim.learning_rate == 3e-4 and cfg.model.patch_size == (1, 4, 4)
    assert cfg.model.remat == "save_dots" and cfg.text.encoders[0].name == "t5x"
    assert Config().model.num_layers == 48  # frozen defaults untouched


@pytest.mark.parametrize("override, fragment", [
    ("model.num_layer=4", "unknown config key 'model.num_layer'; valid keys in model: "),
    ("modle.width=4", "unknown config key 'modle.width'; valid keys in the config: "),
    ("model.remat=sometimes", "valid options: none, full, save_dots, save_attention, offload_dots"),
    ("model.num_layers=four", "expected int"),
    ("model.qk_norm=maybe", "expected true or false"),
    ("model.patch_size=1,2", "expected 3 comma-separated values"),
    ("text.encoders.5.width=4", "valid indices: 0..2"),
    ("model", "expected key.path=value"),
])
def test_bad_overrides_give_one_line_naming_the_options(override, fragment):
    with pytest.raises(UserError) as e:
        load_config(CONFIGS / "moviegen_video_30b.py", [override])
    assert fragment in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("override, fragment", [
    ("model.num_heads=5", "divisible by model.num_heads"),
    ("mesh.data=-1", "at most one -1"),
    ("data.height=100", "data.height (100) must be divisible"),
    ("model.in_channels=8", "latent channels"),
    ("text.drop_prob=1.5", "text.drop_prob"),
    ("text.encoders.0.relative_bias_locality=-1", "relative_bias_locality must be >= 0"),
])
def test_validation_rejects_inconsistent_configs(override, fragment):
    with pytest.raises(UserError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_config(CONFIGS / "moviegen_video_30b.py", [override])


def test_a_config_file_is_type_checked_like_overrides(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import dataclasses\nfrom mgjax.config import Config\n"
                   "def get_config():\n    c = Config()\n"
                   "    return dataclasses.replace(c, model=dataclasses.replace(c.model, remat='often'))\n")
    with pytest.raises(UserError, match="valid options"):
        load_config(bad)


def test_missing_config_file_lists_the_available_ones():
    with pytest.raises(UserError, match="moviegen_video_30b.py"):
        load_config(CONFIGS / "nope.py")


def test_resolved_config_is_saved_and_printed(tmp_path):
    cfg = load_config(CONFIGS / "shapes_t2v_tiny.py", ["train.steps=7"])
    saved = json.loads(save_config(cfg, tmp_path).read_text())
    assert saved["train"]["steps"] == 7 and saved["model"]["patch_size"] == [1, 2, 2]
    assert "train.steps = 7" in format_config(cfg)
    assert flatten(cfg)["text.encoders.0.name"] == "ul2"
    assert dataclasses.asdict(cfg)["name"] == "shapes_t2v_tiny"


def test_every_config_round_trips_through_its_saved_config_json(tmp_path):
    """A run's config.json loads back as the same config (`--config R/config.json`, or `--workdir R` alone)."""
    for path in CONFIG_FILES:
        cfg = load_config(path)
        assert load_config(save_config(cfg, tmp_path / path.stem)) == cfg, path.stem


def test_nested_tuples_are_settable_from_the_command_line():
    cfg = load_config(CONFIGS / "shapes_t2v_tiny.py", ["data.aspect_sizes=((32, 32), (32, 48))",
                                                       "data.duration_buckets=[[4, 0.5, 2.0]]"])
    assert cfg.data.aspect_sizes == ((32, 32), (32, 48)) and cfg.data.duration_buckets == ((4, 0.5, 2.0),)
    with pytest.raises(UserError, match=r"bad value \(32, 32, 3\) for data.aspect_sizes; expected 2 values"):
        load_config(CONFIGS / "shapes_t2v_tiny.py", ["data.aspect_sizes=((32, 32, 3),)"])


def test_a_user_s_own_config_imports_the_shipped_ones_as_a_package(tmp_path):
    mine = tmp_path / "elsewhere" / "mine.py"
    mine.parent.mkdir()
    mine.write_text("import dataclasses\nfrom configs.shapes_t2v_tiny import get_config as base\n\n\n"
                    "def get_config():\n    return dataclasses.replace(base(), name='mine')\n")
    assert load_config(mine).name == "mine"


def test_a_run_prints_only_its_task_s_sections():
    from mgjax.train.tasks import get_task

    tae = load_config(CONFIGS / "tae_shapes.py")
    shown = format_config(tae, get_task("tae").config_sections)
    assert "loss.opl_start" in shown and "model.base_channels" in shown
    sections = {line.split(".")[0].strip() for line in shown.splitlines() if "=" in line}
    assert not sections & {"text", "flow", "sample"}  # (data.upsample.* is the data section's)
