# gouji — every task is a make target; `make demo` and `make test` are the README's two commands.
PY      ?= .venv/bin/python
PIP     ?= .venv/bin/pip
OUT     ?= out

.PHONY: setup setup-test demo test data train bench bench-quick bench-batch inspect-samples clean
setup: .venv/.done
.venv/.done: pyproject.toml scripts/setup.sh scripts/apt_install.sh
	bash scripts/setup.sh
	touch $@

setup-test: .venv/.test-done
.venv/.test-done: pyproject.toml scripts/setup.sh scripts/apt_install.sh
	bash scripts/setup.sh test
	touch .venv/.done $@

demo: setup            ## extract the bundled samples into out/
	$(PY) -m pipeline.cli extract datasets/samples --out $(OUT)

test: setup-test       ## the test suite (what .ci/run calls)
	$(PY) -m pytest tests

data: setup            ## generate the synthetic corpus (sizes in configs/synth.yaml)
	$(PY) -m training.synth.build --config configs/synth.yaml --out datasets/generated

train: setup           ## train the cell-key classifier into models/keys/
	$(PY) -m training.train_keys

bench: setup-test      ## benchmarks side by side with peers → docs/benchmarks.md (BENCH_ARGS="--stop-at 05:55 --scan-docs 4"; training/bench/)
	$(PIP) install -q -e ".[bench]"
	$(PY) -m training.bench --mode full $(BENCH_ARGS)

bench-quick: setup-test ## the same on one test document + the seeds → out/bench-quick (a few minutes)
	$(PIP) install -q -e ".[bench]"
	$(PY) -m training.bench --mode quick $(BENCH_ARGS)

# issue #15's benchmark: the scan splits of the whole test corpus (32 scans, 120 pages: ~20 min on a quiet
# 2-core machine with the 60-page scan; BENCH_MATCH='test_0000[0-3].*' for 8 of them, 24 pages, ~8 min);
# bench_batch says how to build the corpus when it is absent
BENCH_DATA  ?= datasets/generated/s26scans/test
BENCH_MATCH ?= *
bench-batch: setup     ## scans: CPU per stage and page kind, pages/min and s/page at 1 and 2 workers, peak RSS per worker, a 60-page scan → docs/speed.md
	$(PY) -m training.bench_batch --data $(BENCH_DATA) --splits scan_light scan_heavy --match '$(BENCH_MATCH)' \
		--doc docs/speed.md $(BENCH_ARGS)

inspect-samples: setup  ## `gouji inspect` pictures of every page of the scan/digital samples → out/inspect/
	$(PY) -m pipeline.inspect --out $(OUT)/inspect datasets/samples/*.digital.pdf \
		datasets/samples/*.scan_light.pdf datasets/samples/*.scan_heavy.pdf datasets/samples/*.scan_heavy.p2.png

clean:
	rm -rf $(OUT) datasets/generated .pytest_cache
