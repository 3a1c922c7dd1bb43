# Everything goes through .venv, created and kept up to date by scripts/setup.sh.
.PHONY: setup test bench clean
setup:
	bash scripts/setup.sh

test: setup
	bash scripts/run_tests.sh

bench: setup
	.venv/bin/python scripts/bench_core.py

clean:
	rm -rf build .venv
