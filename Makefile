# The two commands: `make run` (main job, embedded defaults) and `make test`
# (`make test-fast` is the inner loop).
# Both create .venv when missing and install the project into it; a stamp file makes
# the install step a no-op until pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.acie-installed
PYTEST_ARGS ?=

.PHONY: setup setup-r run demo test test-fast lint services bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e ".[all]"
	@# Darfur data and peer of causal/sensitivity.py; --no-deps: it lists jupyter as a dependency
	$(PY) -m pip install --quiet --no-deps PySensemakr==0.0.8
	@# tests/deploy: `docker-compose config` checks deploy/docker-compose.yml (no engine needed)
	@command -v docker-compose >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq docker-compose; }
	@touch $(STAMP)

setup: $(STAMP)

# R and the ACIEr package (r/ACIEr), for `make test` only (`make run` needs no R): the
# Debian packages when R or one of them is missing (never CRAN), then ACIEr itself into
# R's default library; a stamp makes it a no-op until r/ACIEr changes.
R_DEBS  := r-base-core r-cran-reticulate r-cran-lme4 r-cran-ggplot2 r-cran-testthat \
           r-cran-knitr r-cran-rmarkdown r-cran-roxygen2 pandoc
R_PKGS  := c("reticulate", "lme4", "ggplot2", "testthat", "knitr", "rmarkdown")
R_STAMP := $(VENV)/.acier-installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(R_STAMP): $(STAMP) $(shell find r/ACIEr -type f 2>/dev/null)
	@command -v Rscript >/dev/null && command -v pandoc >/dev/null && \
	  Rscript -e 'quit(status = !all(sapply($(R_PKGS), requireNamespace, quietly = TRUE)))' || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
	    -y -qq --no-install-recommends $(R_DEBS); }
	$(SUDO) R CMD INSTALL r/ACIEr
	@touch $(R_STAMP)

setup-r: $(R_STAMP)

run: setup
	$(VENV)/bin/acie serve

demo: setup
	$(VENV)/bin/acie causal demo

services:
	@bash scripts/services.sh

# everything (what CI runs, with CI=true: a skip fails unless the test is marked gpu)
test: setup setup-r services setup-browser frontend-check
	@$(PY) -m pytest -n 2 --timeout=600 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# the inner loop: no slow tests and no tests needing PostgreSQL, Redis, a browser or R
FAST_MARKERS := not slow and not postgres and not redis and not browser and not r
test-fast: setup
	@$(PY) -m pytest -n 2 --timeout=600 -m "$(FAST_MARKERS)" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/ruff format --check src tests benchmarks examples scripts
	$(VENV)/bin/mypy

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info

# The explorer's web app: TypeScript + Vite in frontend/, built from its lock file into the
# package (src/acie/serve/explorer_app/, served at /explorer/), so `make run` needs no Node.
# Needs Node >= 20.19 and npm (the npm registry at build time only).
EXPLORER_APP := src/acie/serve/explorer_app
NODE_OK := node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'

.PHONY: frontend frontend-check setup-browser

frontend:
	@$(NODE_OK) || { echo "make frontend needs Node >= 20.19 and npm"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund && npm run build

# the shipped bundle must be exactly what the lock file builds (the build writes no
# hashes or timestamps): a clean copy of frontend/, npm ci, build into a temp folder, diff
frontend-check:
	@$(NODE_OK) || { echo "make frontend-check needs Node >= 20.19 and npm"; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  mkdir "$$tmp/frontend" && \
	  tar -C frontend --exclude=node_modules -cf - . | tar -C "$$tmp/frontend" -xf - && \
	  (cd "$$tmp/frontend" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && \
	   ACIE_EXPLORER_OUT="$$tmp/out" npm run --silent build >/dev/null) && \
	  if diff -r "$$tmp/out" $(EXPLORER_APP); then echo "explorer bundle: up to date"; \
	  else echo "the shipped explorer bundle is stale: run make frontend and commit $(EXPLORER_APP)"; exit 1; fi

# Debian's Chromium for the browser tests (tests/browser, driven by Playwright with its
# executable path; no browser build is downloaded)
setup-browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }
