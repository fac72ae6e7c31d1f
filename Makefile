# Two commands on a fresh machine with Python 3.11: `make demo` (train + evaluate + sample the Moving Shapes
# text-to-video model on CPU) and `make test`. Each creates the locked environment (.venv, from uv.lock) first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := .uv/bin/uv
PY := .venv/bin/python
RUN := runs/shapes_t2v_tiny
CONFIG := configs/shapes_t2v_tiny.py

.PHONY: install parity-env demo test test-fast lock clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --extra tpu --python $(PYTHON)
	touch $@

install: .venv/.synced

# The parity tests' torch + transformers reference runs in its own environment (pip: torch 2.13.0+cpu comes from the
# machine's local wheel folder, which uv does not read); mgjax's locked environment never imports torch.
.venv-parity/.installed: tests/parity/requirements.txt
	rm -rf .venv-parity
	$(PYTHON) -m venv .venv-parity
	.venv-parity/bin/python -m pip install --quiet --disable-pip-version-check -r tests/parity/requirements.txt
	touch $@

parity-env: .venv-parity/.installed

demo: install
	$(PY) train.py --config $(CONFIG) --workdir $(RUN)
	$(PY) -m mgjax eval --config $(CONFIG) --workdir $(RUN)
	$(PY) sample.py --config $(CONFIG) --workdir $(RUN) --out $(RUN)/samples/demo.mp4 --overwrite \
		--prompt "a red circle moving left" --prompt "a large blue square moves upward quickly" \
		--prompt "green triangle drifting to the right and yellow circle drifting down"

test: install parity-env
	MGJAX_REQUIRE_PARITY=1 $(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lock: | $(UV)
	$(UV) lock

clean:
	rm -rf .venv .venv-parity .uv runs
