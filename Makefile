# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# llama.cpp is compiled for a portable x86-64 level, not for this CPU: a native build
# (AVX-512/AMX) crashed on the machines we run on. pip caches the wheel after the first build.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: setup demo screenshot test test-fast lint services bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install --quiet -e '.[local,test,lint,spark,postgres]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) -m harness run experiments/quickstart.yaml --out reports/quickstart

# The README's screenshot, from the report `make demo` writes (rendered again from its record; needs Chromium).
screenshot: demo
	$(PY) docs/screenshot.py reports/quickstart docs/report-screenshot.png

# Everything CI runs: the house's checks (layers, types, style), then every test, slow ones included.
test: setup services lint
	$(PY) -m pytest -q

# The inner loop: the same checks and the tests not marked slow (no local model, no PostgreSQL, no wheel build).
test-fast: setup lint
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	$(VENV)/bin/ruff check harness tests benchmarks

# What the tests use from Debian: headless Chromium (the page tests), PostgreSQL (the team-deployment and engine
# tests, which start their own server on loopback) and Java 17 (Spark local mode). Installed only as root; without
# them those tests skip with a hint.
services:
	@{ [ -x /usr/bin/chromium ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v java >/dev/null; } || \
	  [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium postgresql openjdk-17-jre-headless >/dev/null; } || \
	  echo "chromium, postgresql or java could not be installed: their tests will skip"

# Figures of issue 9 (fan-out, overhead, cache, scale, start-up) -> benchmarks/results.json; < 10 min on 2 cores.
bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf reports/quickstart reports/*-2* mlflow.db mlartifacts mlruns
