# Everything goes through .venv, created and kept up to date by scripts/setup.sh.
.PHONY: setup test demo bench clean
setup:
	bash scripts/setup.sh

test: setup
	bash scripts/run_tests.sh

demo: setup
	AMENT_PREFIX_PATH=$(CURDIR)/.venv .venv/bin/python -m hotspot_ros.demo --output outputs/demo

bench: setup
	.venv/bin/python scripts/bench_core.py

clean:
	rm -rf build .venv
