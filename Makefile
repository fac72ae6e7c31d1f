# Two commands on a fresh machine with Python 3.11: `make demo` (train + evaluate + sample the Moving Shapes
# text-to-video model on CPU) and `make test`. Each creates the locked environment (.venv, from uv.lock) first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
UV := .uv/bin/uv
PY := .venv/bin/python
RUN := runs/shapes_t2v_tiny
CONFIG := configs/shapes_t2v_tiny.py

.PHONY: install demo test test-fast lock clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	touch $@

install: .venv/.synced

demo: install
	$(PY) train.py --config $(CONFIG) --workdir $(RUN)
	$(PY) -m mgjax.eval.shapes_t2v --config $(CONFIG) --workdir $(RUN)
	$(PY) sample.py --config $(CONFIG) --workdir $(RUN) --out $(RUN)/samples/demo.mp4 \
		--prompt "a red circle moving left" --prompt "a large blue square moves upward quickly" \
		--prompt "green triangle drifting to the right and yellow circle drifting down"

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lock: | $(UV)
	$(UV) lock

clean:
	rm -rf .venv .uv runs
