# Two commands on a fresh machine with Python 3.11: `make demo` (train + evaluate + sample the Moving Shapes
# text-to-video model on CPU) and `make test`. Each creates the locked environment (.venv, from uv.lock) first.
#
# The environment comes in variants, all from the same uv.lock (same versions of every shared package):
#   make install        dev + tpu extras: the default, and what `make demo` / `make test` make on a fresh checkout;
#                       libtpu also lets `python -m mgjax aot` compile for a TPU slice on a CPU machine
#   make install-tpu    the same environment, by its name: for Cloud TPU VMs (every worker of a pod slice)
#   make install-cuda   dev + cuda extras: JAX's CUDA 12 plugin and NVIDIA's CUDA/cuDNN/NCCL wheels (NVIDIA GPUs)
#   make install-cpu    dev extra only: no accelerator runtime
# .venv holds one variant at a time: each target re-syncs .venv exactly (removing the other variants' packages)
# when its own stamp .venv/.synced-VARIANT is missing or older than pyproject.toml / uv.lock. `make demo`, `make test`
# and `make test-fast` use the variant installed last (`make install`'s when there is none). docs/install.md has the
# TPU pod slice and SLURM GPU cluster recipes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := .uv/bin/uv
PY := .venv/bin/python
RUN := runs/shapes_t2v_tiny
CONFIG := configs/shapes_t2v_tiny.py

# --extra flags of each variant (the extras are defined in pyproject.toml; tests/test_install.py checks these names)
EXTRAS_tpu := --extra dev --extra tpu
EXTRAS_cuda := --extra dev --extra cuda
EXTRAS_cpu := --extra dev
# The variant in .venv now (its stamp), else make install's
VARIANT := $(or $(patsubst .venv/.synced-%,%,$(firstword $(wildcard .venv/.synced-*))),tpu)

.PHONY: install install-tpu install-cuda install-cpu env parity-env demo edit upsample test test-fast lock clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced-%: pyproject.toml uv.lock | $(UV)
	$(if $(EXTRAS_$*),,$(error unknown environment variant '$*': use install, install-tpu, install-cuda or install-cpu))
	rm -f .venv/.synced .venv/.synced-*
	$(UV) sync --frozen $(EXTRAS_$*) --python $(PYTHON)
	touch $@

install install-tpu: .venv/.synced-tpu
install-cuda: .venv/.synced-cuda
install-cpu: .venv/.synced-cpu
env: .venv/.synced-$(VARIANT)

# The parity tests' torch + transformers reference runs in its own environment (pip: torch 2.13.0+cpu comes from the
# machine's local wheel folder, which uv does not read); mgjax's locked environment never imports torch.
.venv-parity/.installed: tests/parity/requirements.txt
	rm -rf .venv-parity
	$(PYTHON) -m venv .venv-parity
	.venv-parity/bin/python -m pip install --quiet --disable-pip-version-check -r tests/parity/requirements.txt
	touch $@

parity-env: .venv-parity/.installed

demo: env
	$(PY) train.py --config $(CONFIG) --workdir $(RUN)
	$(PY) -m mgjax eval --config $(CONFIG) --workdir $(RUN)
	$(PY) sample.py --config $(CONFIG) --workdir $(RUN) --out $(RUN)/samples/demo.mp4 --overwrite \
		--prompt "a red circle moving left" --prompt "a large blue square moves upward quickly" \
		--prompt "green triangle drifting to the right and yellow circle drifting down"

# Movie Gen Edit's three stages on Moving Shapes, from the demo's text-to-video run (make demo first); README "Edit"
edit: env
	$(PY) train.py --config configs/shapes_edit_stage1.py --workdir runs/edit_stage1
	$(PY) train.py --config configs/shapes_edit_stage2.py --workdir runs/edit_stage2
	$(PY) -m mgjax edit-backtranslate --config configs/shapes_edit_stage2.py --workdir runs/edit_stage2 \
		--out runs/edit_stage2/backtranslated.npz --num 2048 --overwrite \
		--set sample.num_steps=25 --set sample.linear_steps=12 --set sample.linear_reference_steps=125
	$(PY) train.py --config configs/shapes_edit_stage3.py --workdir runs/edit_stage3
	$(PY) -m mgjax eval --config configs/shapes_edit_stage3.py --workdir runs/edit_stage3

# The spatial upsampler: its text-to-image parent, then the upsampler (the image VAE is committed as
# assets/image_vae_tiny; configs/image_vae_tiny.py retrains it); README "Spatial upsampler"
upsample: env
	$(PY) train.py --config configs/shapes_t2i_tiny.py --workdir runs/shapes_t2i_tiny
	$(PY) train.py --config configs/shapes_upsample_tiny.py --workdir runs/shapes_upsample_tiny
	$(PY) -m mgjax eval --config configs/shapes_upsample_tiny.py --workdir runs/shapes_upsample_tiny

test: env parity-env
	MGJAX_REQUIRE_PARITY=1 $(PY) -m pytest -q

test-fast: env
	$(PY) -m pytest -q -m "not slow"

lock: | $(UV)
	$(UV) lock

clean:
	rm -rf .venv .venv-parity .uv runs
