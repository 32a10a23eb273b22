# nmt — the table of contents. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_SPEC ?= $(shell $(PYTHON) scripts/torch_spec.py)
# The read-only corpus mirror beside the project, when there is one.
ifneq ($(wildcard ../shared/corpora),)
export NMT_DATA_MIRROR ?= $(abspath ../shared/corpora)
endif
ARGS ?=
# make compare: the preset (nmt/configs/experiment/), the variants of the sweep, where the
# runs go (each sweep in a new timestamped folder below COMPARE_RUNS) and where the
# report, figures and RUN.md go (replaced on each run).
experiment ?= bottleneck
# (default: every variant of nmt/models/registry.py, read when the recipe runs)
COMPARE_MODELS ?= $(shell $(BIN)/python -m nmt.models)
# SEEDS=1,2,3: train every variant once per seed (train.seed; all variants of a seed first);
# the report groups the seeds of each variant
SEEDS ?=
# RESUME=runs/compare_X/<date_time>: continue that sweep with the same arguments
# (train.resume=auto: finished runs are left as they are, interrupted ones resume from last.pt)
RESUME ?=
COMPARE_RUNS ?= runs/compare_$(experiment)
COMPARE_OUT ?= docs/results/$(experiment)
# bootstrap resamples of every paired test of the report (make compare, make capacity):
# with ~100 tests in a family, 1,000 resamples (smallest p 1/1001) is too coarse for
# their Benjamini-Hochberg q-values
COMPARE_RESAMPLES ?= 10000

.DEFAULT_GOAL := help
.PHONY: help install test lint format verify headline train data compare tune capacity time-to-bleu bench bench-engines profile-decode bench-memory bench-memory-wmt bench-scale clean

help: ## List the targets
	@grep -E '^[a-z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-10s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install nmt (editable) with its dev extras

$(STAMP): pyproject.toml scripts/torch_spec.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

# the suite runs in TEST_WORKERS processes (pytest-xdist, a module's tests together), each
# torch on one thread: two tiny trainings on two cores, not four threads fighting over two
TEST_WORKERS ?= 2
test: $(STAMP) ## Run the test suite (CPU, tiny models; TEST_WORKERS=2 processes of one thread)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check nmt tests scripts
	$(BIN)/ruff format --check nmt tests scripts

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix nmt tests scripts
	$(BIN)/ruff format nmt tests scripts

verify: $(STAMP) ## Recompute every committed comparison's BLEU and chrF from its kept hypotheses, and the README's tables from those
	$(BIN)/python scripts/verify_results.py --all docs/results
	$(BIN)/python scripts/headline.py --check

headline: $(STAMP) ## Rewrite the README's generated result tables from the committed comparisons
	$(BIN)/python scripts/headline.py

data: $(STAMP) ## Fetch and verify Multi30k (from NMT_DATA_MIRROR when set)
	$(BIN)/nmt-data fetch multi30k

# make train keeps the weights of its last 5 validations (checkpoints/step_*.pt), so that
# nmt-average --last 5 can follow it; ARGS="train.keep_last=0" keeps none
TRAIN_KEEP ?= train.keep_last=5
train: $(STAMP) ## Train the default model on Multi30k de→en (extra overrides: ARGS="...")
	$(BIN)/nmt-train $(TRAIN_KEEP) $(ARGS)

compare: export COMPARE_ARGS = $(ARGS)
compare: $(STAMP) ## Train the variants on a preset and compare them (experiment=bottleneck SEEDS=1,2 ARGS="...")
	@set -euo pipefail; \
	resume="$(if $(RESUME),train.resume=auto)"; \
	if [ -n "$$resume" ]; then sweep="$(RESUME)"; \
		if [ ! -d "$$sweep" ]; then echo "error: RESUME=$$sweep is not a sweep folder" >&2; exit 2; fi; \
	else sweep="$(COMPARE_RUNS)/$$(date +%Y-%m-%d_%H-%M-%S)"; \
		if [ -e "$$sweep" ]; then echo "error: $$sweep exists; wait a second and retry" >&2; exit 2; fi; \
	fi; \
	seeds="$(if $(SEEDS),train.seed=$(SEEDS))"; \
	cmd="nmt-train -m$${seeds:+ $$seeds} model=$(COMPARE_MODELS) experiment=$(experiment) hydra.sweep.dir=$$sweep"; \
	cmd="$$cmd$${resume:+ $$resume}$${COMPARE_ARGS:+ $$COMPARE_ARGS}"; \
	echo "+ $$cmd"; \
	start=$$(date +%s); \
	$(BIN)/nmt-train -m $$seeds model=$(COMPARE_MODELS) experiment=$(experiment) \
		hydra.sweep.dir="$$sweep" $$resume $(ARGS); \
	wall=$$(( $$(date +%s) - start )); \
	$(BIN)/nmt-compare "$$sweep"/*/ --out "$(COMPARE_OUT)" --command "$$cmd" --wall-seconds "$$wall" \
		--resamples $(COMPARE_RESAMPLES) \
		--note "make compare experiment=$(experiment) SEEDS=$(SEEDS)$(if $(RESUME), RESUME=$(RESUME)) ARGS=\"$$COMPARE_ARGS\""

# make tune: each variant once per grid point on a shortened budget (one seed), then each
# variant's best grid point on validation BLEU becomes its recipe
# (nmt/configs/experiment/recipe/<experiment>/<variant>.yaml, reported in
# docs/results/<experiment>_tuning/). Every sweep under TUNE_RUNS is read, so a second grid
# (e.g. the Transformers' warm-up at their chosen lr) adds to the first.
TUNE_MODELS ?= $(COMPARE_MODELS)
TUNE_GRID ?= train.lr=5e-4,1e-3,2e-3
TUNE_BUDGET ?= train.max_epochs=10
# tuning reads validation BLEU only: no extra test splits, greedy test decoding (fast)
TUNE_QUICK ?= data.extra_tests=[] decode.beam=1
TUNE_RUNS ?= runs/tune_$(experiment)
tune: $(STAMP) ## Choose each variant's lr on validation (experiment=X TUNE_MODELS=a,b TUNE_GRID="train.lr=..." TUNE_BUDGET="..." RESUME=sweep)
	@set -euo pipefail; \
	if [ -n "$(RESUME)" ]; then sweep="$(RESUME)"; resume="train.resume=auto"; \
		if [ ! -d "$$sweep" ]; then echo "error: RESUME=$$sweep is not a sweep folder" >&2; exit 2; fi; \
	else sweep="$(TUNE_RUNS)/$$(date +%Y-%m-%d_%H-%M-%S)"; resume=""; fi; \
	echo "+ nmt-train -m model=$(TUNE_MODELS) experiment=$(experiment) $(TUNE_GRID) $(TUNE_BUDGET) $(TUNE_QUICK) hydra.sweep.dir=$$sweep $$resume"; \
	$(BIN)/nmt-train -m model=$(TUNE_MODELS) experiment=$(experiment) $(TUNE_GRID) $(TUNE_BUDGET) $(TUNE_QUICK) \
		hydra.sweep.dir="$$sweep" $$resume \
		'hydra.sweep.subdir=$${hydra.job.num}_$${name}_lr$${train.lr}_warmup$${train.warmup_steps}'; \
	$(BIN)/python scripts/choose_recipe.py $(TUNE_RUNS)/*/ --preset $(experiment) --write

# make capacity: the fixed vector's reach against its size on a preset (SEEDS=1,2,3):
# seq2seq at hidden 128/256/512/1024 and the pooled Transformer at d_model 128/256/512
# (the vector the decoder sees), the attentive variants at the smallest size; every other
# setting is the preset's. The families run in the order given, cheapest first, so that an
# interrupted sweep has the most results (seq2seq at 1024 alone costs about as much as the
# rest). One sweep folder per family under CAPACITY_RUNS/<date>, named by its variants and
# sizes (seq2seq_hidden_size128-256-512), then one comparison of them all (its reach
# section) in CAPACITY_OUT. RESUME=<that folder> continues.
CAPACITY_RUNS ?= runs/capacity_$(experiment)
CAPACITY_OUT ?= docs/results/capacity_$(experiment)
CAPACITY_FAMILIES ?= bahdanau,luong:model.hidden_size=128 transformer:model.d_model=128 \
	seq2seq:model.hidden_size=128,256,512 transformer_pooled:model.d_model=128,256,512 \
	seq2seq:model.hidden_size=1024
capacity: export CAPACITY_ARGS = $(ARGS)
capacity: $(STAMP) ## The fixed vector's reach against its size (experiment=bottleneck SEEDS=1,2,3 RESUME=folder)
	@set -euo pipefail; \
	if [ -n "$(RESUME)" ]; then top="$(RESUME)"; resume="train.resume=auto"; \
		if [ ! -d "$$top" ]; then echo "error: RESUME=$$top is not a capacity folder" >&2; exit 2; fi; \
	else top="$(CAPACITY_RUNS)/$$(date +%Y-%m-%d_%H-%M-%S)"; resume=""; fi; \
	seeds="$(if $(SEEDS),train.seed=$(SEEDS))"; start=$$(date +%s); cmds=(); \
	for family in $(CAPACITY_FAMILIES); do \
		models="$${family%%:*}"; sizes="$${family#*:}"; \
		folder="$${models//,/_}_$$(echo "$${sizes#model.}" | tr -d '=' | tr ', ' '-_')"; \
		cmd="nmt-train -m model=$$models $$sizes experiment=$(experiment)$${seeds:+ $$seeds} hydra.sweep.dir=$$top/$$folder$${resume:+ $$resume}$${CAPACITY_ARGS:+ $$CAPACITY_ARGS}"; \
		echo "+ $$cmd"; cmds+=("$$cmd"); \
		$(BIN)/nmt-train -m model=$$models $$sizes experiment=$(experiment) $$seeds \
			hydra.sweep.dir="$$top/$$folder" $$resume $(ARGS); \
	done; \
	wall=$$(( $$(date +%s) - start )); \
	$(BIN)/nmt-compare "$$top"/*/ --out "$(CAPACITY_OUT)" --command "$$(IFS=';'; echo "$${cmds[*]}")" \
		--wall-seconds "$$wall" --sentences 0 --resamples $(COMPARE_RESAMPLES) \
		--note "make capacity experiment=$(experiment) SEEDS=$(SEEDS)$(if $(RESUME), RESUME=$(RESUME)) ARGS=\"$$CAPACITY_ARGS\""

TTB_RUNS ?= runs/time_to_bleu
TTB_OUT ?= docs/results/time_to_bleu/time_to_bleu.json
MINUTES ?= 20
time-to-bleu: export TTB_ARGS = $(ARGS)
time-to-bleu: $(STAMP) ## Minutes of training to validation BLEU 30 and 35, default recipe, one run per seed (SEEDS=1,2,3 MINUTES=20 ARGS="...") -> JSON
	@set -uo pipefail; stamp=$$(date +%Y-%m-%d_%H-%M-%S); runs=(); failed=""; \
	seeds=$$(echo "$(or $(SEEDS),1)" | tr , ' '); \
	for seed in $$seeds; do case "$$seed" in *[!0-9]*) \
		echo "error: SEEDS=$(SEEDS): give seeds as numbers, e.g. SEEDS=1,2,3" >&2; exit 2;; esac; done; \
	for seed in $$seeds; do \
		dir="$(TTB_RUNS)/$${stamp}_seed$$seed"; \
		echo "+ nmt-train hydra.run.dir=$$dir train.seed=$$seed train.max_minutes=$(MINUTES) $$TTB_ARGS"; \
		if $(BIN)/nmt-train hydra.run.dir="$$dir" train.seed=$$seed train.max_minutes=$(MINUTES) $$TTB_ARGS; \
		then runs+=("$$dir"); else failed="$$failed $$seed"; fi; \
	done; \
	if [ $${#runs[@]} -gt 0 ]; then $(BIN)/python scripts/time_to_bleu.py "$${runs[@]}" --out "$(TTB_OUT)" || exit 1; fi; \
	if [ -n "$$failed" ]; then echo "error: the run(s) of seed(s)$$failed failed" >&2; exit 1; fi

BENCH_OUT ?= docs/results/bench/bench.json
bench: $(STAMP) ## Training/decoding speed of every variant -> JSON + BENCHMARK.md (BENCH_ARGS="...")
	$(BIN)/python scripts/bench.py --out $(BENCH_OUT) --markdown BENCHMARK.md $(BENCH_ARGS)

MEMORY_OUT ?= docs/results/bench/memory.json
MEMORY_WMT_OUT ?= docs/results/bench/memory_wmt/bench_memory_wmt.json
bench-memory: $(STAMP) ## Resident memory of the default training, epoch by epoch (~8 min) -> JSON
	$(BIN)/python scripts/bench_memory.py --out $(MEMORY_OUT) -- \
		train.max_epochs=5 "data.extra_tests=[]" decode.beam=1 $(ARGS)

bench-memory-wmt: $(STAMP) ## Bahdanau on WMT news, 2 epochs: RSS <= 8,000 MB, epoch 2 <= +10% (~5 min) -> JSON
	$(BIN)/python scripts/bench_memory.py --max-peak-mb 8000 --out $(MEMORY_WMT_OUT) -- \
		experiment=wmt_news model=bahdanau train.max_epochs=2 train.eval_max_sentences=200 $(ARGS)

# make bench-engines ENGINES_CKPT=runs/<a Transformer run>/checkpoints/best.pt: the PyTorch
# search and CTranslate2 on Multi30k's test_2016_flickr (fetched by any Multi30k run)
ENGINES_CKPT ?=
ENGINES_SRC ?= data/multi30k/test_2016_flickr.de.gz
ENGINES_REF ?= data/multi30k/test_2016_flickr.en.gz
bench-engines: $(STAMP) ## PyTorch and CTranslate2 side by side on a Transformer (ENGINES_CKPT=best.pt) -> JSON + a BENCHMARK.md section
	@test -n "$(ENGINES_CKPT)" || { echo "error: give ENGINES_CKPT=runs/<a Transformer run>/checkpoints/best.pt" >&2; exit 2; }
	$(BIN)/python scripts/bench_engines.py $(ENGINES_CKPT) --src $(ENGINES_SRC) --ref $(ENGINES_REF) \
		--out docs/results/bench/engines.json --markdown BENCHMARK.md $(ENGINES_ARGS)

profile-decode: $(STAMP) ## Where the PyTorch search's time goes, a sentence and a full buffer a batch (ENGINES_CKPT=best.pt) -> JSON + a BENCHMARK.md section
	@test -n "$(ENGINES_CKPT)" || { echo "error: give ENGINES_CKPT=runs/<a Transformer run>/checkpoints/best.pt" >&2; exit 2; }
	$(BIN)/python scripts/profile_decode.py $(ENGINES_CKPT) --src $(ENGINES_SRC) \
		--out docs/results/bench/decode_profile.json --markdown BENCHMARK.md $(PROFILE_ARGS)

SCALE_OUT ?= docs/results/scale/scale.json
bench-scale: $(STAMP) ## A WMT14-size corpus (4.5M pairs, ~10 GB of work files under runs/bench_scale): prepare, memory, speed (~30 min) -> JSON
	$(BIN)/python scripts/bench_scale.py --out $(SCALE_OUT) $(SCALE_ARGS)

clean: ## Remove caches (keeps .venv, data/ and runs/)
	rm -rf .pytest_cache .ruff_cache build *.egg-info
