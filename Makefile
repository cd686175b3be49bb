# Two commands on a fresh machine:  `make demo`  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= runs/demo
# CPU build of torch first: any other torch spec pulls several GB of CUDA wheels.
# GPU users: make install TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0

.PHONY: install wordnet demo test bench clean sample-data constraints

install: $(VENV)/.installed wordnet

# WordNet 3.0 for text synonyms comes from Debian (curaug never downloads it). Without
# root this only prints the fix, so `make test` and `make demo` still run.
wordnet:
	@test -f /usr/share/wordnet/data.noun || test -n "$$CURAUG_WORDNET_DIR" || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq wordnet-base wordnet-sense-index; \
	else echo "WordNet 3.0 missing (text synonyms need it): sudo apt-get install wordnet-base wordnet-sense-index"; fi

# constraints.txt pins what the suite last passed with, so a new release of a dependency
# never breaks a fresh clone; pyproject.toml keeps the ranges users get.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -c constraints.txt -e '.[all,dev]'
	touch $@

# after upgrading a dependency and passing `make test`: record the tested set
constraints:
	@{ sed -n '1,/^# brings/p;/^# Regenerate/p' constraints.txt; $(BIN)/pip freeze | grep -v '^-e\|^curaug\|^#' | \
	    grep -viE '^(torch|nvidia|triton|sympy|mpmath|networkx|setuptools|pip|wheel)=='; } > constraints.new && \
	    mv constraints.new constraints.txt

demo: install
	$(BIN)/curaug ingest sample_data/images -o $(OUT)/images.parquet
	$(BIN)/curaug profile $(OUT)/images.parquet --json $(OUT)/images.profile.json
	$(BIN)/curaug ingest sample_data/audio -o $(OUT)/audio.parquet
	$(BIN)/curaug profile $(OUT)/audio.parquet --json $(OUT)/audio.profile.json
	$(BIN)/curaug ingest sample_data/text.csv -o $(OUT)/text.parquet
	$(BIN)/curaug profile $(OUT)/text.parquet --json $(OUT)/text.profile.json
	$(BIN)/curaug ingest sample_data/penguins.csv -o $(OUT)/penguins.parquet
	$(BIN)/curaug profile $(OUT)/penguins.parquet --label species --json $(OUT)/penguins.profile.json
	@# the raw table breaks its rules (exit 1 expected): missing values, a duplicate, PII, odd spellings
	$(BIN)/curaug validate sample_data/penguins.csv --rules sample_data/penguins.rules.yaml \
	    --json $(OUT)/penguins.raw.validation.json --report $(OUT)/penguins.raw.report.html \
	    --junit $(OUT)/penguins.raw.junit.xml; test $$? -eq 1
	$(BIN)/curaug clean sample_data/penguins.csv --rules sample_data/penguins.rules.yaml \
	    -o $(OUT)/penguins.clean.parquet --log $(OUT)/penguins.clean.log.jsonl
	$(BIN)/curaug validate $(OUT)/penguins.clean.parquet --rules sample_data/penguins.rules.yaml \
	    --json $(OUT)/penguins.clean.validation.json --report $(OUT)/penguins.clean.report.html
	$(BIN)/curaug clean $(OUT)/penguins.clean.parquet --rules sample_data/penguins.normalize.yaml \
	    -o $(OUT)/penguins.zca.parquet
	$(BIN)/curaug validate $(OUT)/images.parquet --label label --json $(OUT)/images.validation.json || true
	@# split 60/20/20 + 5 folds with no penguin in two splits, lock it, and gate it as CI would
	$(BIN)/curaug split $(OUT)/penguins.clean.parquet --label species --group individual_id --folds 5 \
	    --lock $(OUT)/penguins.split.lock -o $(OUT)/penguins.split.parquet --json $(OUT)/penguins.split.json
	$(BIN)/curaug validate $(OUT)/penguins.split.parquet --rules sample_data/penguins.rules.yaml \
	    --group individual_id --lock $(OUT)/penguins.split.lock --junit $(OUT)/penguins.split.junit.xml \
	    --report $(OUT)/penguins.split.report.html
	@# the digits: split, then augment the train split (2 copies each) and replay one sample
	$(BIN)/curaug split $(OUT)/images.parquet --label label -o $(OUT)/images.split.parquet
	$(BIN)/curaug augment $(OUT)/images.split.parquet --recipe sample_data/digits.recipe.yaml \
	    -o $(OUT)/digits_aug --workers 2
	$(BIN)/curaug augment $(OUT)/images.split.parquet --recipe sample_data/digits.recipe.yaml \
	    -o $(OUT)/digits_aug --replay 0/digit_0000__aug1.png
	@# the fortunes: split, then typo/OCR noise and language-aware swaps (WordNet, n-gram LM), offline
	$(BIN)/curaug split sample_data/text.csv -o $(OUT)/text.split.parquet
	$(BIN)/curaug augment $(OUT)/text.split.parquet --recipe sample_data/text.recipe.yaml -o $(OUT)/text_noise --workers 2
	$(BIN)/curaug augment $(OUT)/text.split.parquet --recipe sample_data/text.language.recipe.yaml -o $(OUT)/text_language
	@# the spoken words: split (small classes to train), then gain, shift, stretch/pitch and coloured noise
	$(BIN)/curaug split $(OUT)/audio.parquet --small-classes-to-train -o $(OUT)/audio.split.parquet
	$(BIN)/curaug augment $(OUT)/audio.split.parquet --recipe sample_data/audio.recipe.yaml -o $(OUT)/audio_aug --workers 2
	@# a baseline: the penguins MLP on the locked split (test evaluated once, at the end)
	rm -rf $(OUT)/penguins_mlp
	$(BIN)/curaug train $(OUT)/penguins.split.parquet --label species -o $(OUT)/penguins_mlp --epochs 60 --patience 10
	@# the whole path in one file: ingest, validate, clean, split, gate, augment, train, ablation, report
	$(BIN)/curaug run sample_data/pipeline.yaml
	@echo "demo outputs in $(OUT)/ and runs/digits/; the pipeline report: runs/digits/report.html"

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_validate.py --rows 1000000 10000000
	$(BIN)/python benchmarks/bench_checks.py --rows 1000000
	$(BIN)/python benchmarks/bench_split.py
	$(BIN)/python benchmarks/bench_augment.py
	$(BIN)/python benchmarks/bench_interrupt.py
	$(BIN)/python benchmarks/bench_text.py
	$(BIN)/python benchmarks/bench_audio.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_scale.py --quick

# Rebuilding the sample data needs espeak-ng, sox and fortunes from Debian.
sample-data: install
	$(BIN)/pip install -q palmerpenguins
	$(BIN)/python scripts/make_sample_data.py

clean:
	rm -rf $(VENV) runs .pytest_cache
