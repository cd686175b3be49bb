# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs/demo
# CPU build of torch first: any other torch spec pulls several GB of CUDA wheels.
# GPU users: make install TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0

.PHONY: install demo test bench clean sample-data

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[all,dev]'
	touch $@

demo: install
	$(BIN)/curaug ingest sample_data/images -o $(OUT)/images.parquet
	$(BIN)/curaug profile $(OUT)/images.parquet --json $(OUT)/images.profile.json
	$(BIN)/curaug ingest sample_data/audio -o $(OUT)/audio.parquet
	$(BIN)/curaug profile $(OUT)/audio.parquet --json $(OUT)/audio.profile.json
	$(BIN)/curaug ingest sample_data/text.csv -o $(OUT)/text.parquet
	$(BIN)/curaug profile $(OUT)/text.parquet --json $(OUT)/text.profile.json
	$(BIN)/curaug ingest sample_data/penguins.csv -o $(OUT)/penguins.parquet
	$(BIN)/curaug profile $(OUT)/penguins.parquet --label species --json $(OUT)/penguins.profile.json
	@echo "demo outputs in $(OUT)/"

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_ingest.py

# Rebuilding the sample data needs espeak-ng, sox and fortunes from Debian.
sample-data: install
	$(BIN)/pip install -q palmerpenguins
	$(BIN)/python scripts/make_sample_data.py

clean:
	rm -rf $(VENV) runs .pytest_cache
