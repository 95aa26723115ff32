# The Encore Celery workshop. `make` alone lists what you can do.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROJECT ?= starter_project
EX ?=
BROKER ?=
SEED ?=
PART ?=

.DEFAULT_GOAL := help
.PHONY: help setup check watch hint solution doctor queue stage run flower broker test bench grade bench-grade gradescope screenshots diagrams clean

help: ## List the targets
	@echo "Encore: background tasks in Django with Celery and Redis"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: EX=02  PROJECT=dir (default starter_project)  BROKER=redis://127.0.0.1:6379/9  SEED=n"

$(VENV)/.installed: requirements.txt scripts/setup.sh
	@sh scripts/setup.sh "$(PYTHON)" "$(VENV)"
	@touch $@

setup: $(VENV)/.installed ## Create .venv and install everything (the other targets do it for you)

check: $(VENV)/.installed ## Check your project: EX=NN for one exercise, none for all of them
	@$(PY) -m grader check $(EX) --project "$(PROJECT)" $(if $(BROKER),--broker "$(BROKER)") $(if $(SEED),--seed $(SEED)) $(if $(HTML),--html "$(HTML)")

watch: $(VENV)/.installed ## Check exercise EX again every time you save a file (Ctrl-C stops)
	@test -n "$(EX)" || { echo "Usage: make watch EX=02"; exit 2; }
	@$(PY) -m grader watch $(EX) --project "$(PROJECT)" $(if $(BROKER),--broker "$(BROKER)") $(if $(SEED),--seed $(SEED))

hint: $(VENV)/.installed ## Show the next hint for exercise EX (RESET=1 starts again)
	@test -n "$(EX)" || { echo "Usage: make hint EX=02"; exit 2; }
	@$(PY) -m grader hint $(EX) $(if $(RESET),--reset)

solution: $(VENV)/.installed ## Show exercise EX's solution as a diff; apply it if you say yes (RESTORE=1 undoes)
	@test -n "$(EX)" || { echo "Usage: make solution EX=02 [APPLY=yes] [RESTORE=1]"; exit 2; }
	@$(PY) -m grader solution $(EX) --project "$(PROJECT)" $(if $(filter yes,$(APPLY)),--yes) $(if $(RESTORE),--restore)

doctor: $(VENV)/.installed ## Find what is wrong with your running broker, worker and beat
	@$(PY) -m grader doctor --project "$(PROJECT)"

queue: $(VENV)/.installed ## Show what the broker holds now: queues, unacknowledged tasks, results
	@$(PY) -m grader queue --project "$(PROJECT)"

stage: $(VENV)/.installed ## Write the project as it stands after exercise EX to DEST
	@test -n "$(EX)" -a -n "$(DEST)" || { echo "Usage: make stage EX=03 DEST=some/new/folder"; exit 2; }
	@$(PY) -m grader stage $(EX) "$(DEST)"

run: $(VENV)/.installed ## Run Encore: web, worker, beat and Flower (embedded broker unless REDIS_URL is set)
	@$(PY) -m grader run --project "$(PROJECT)"

flower: $(VENV)/.installed ## Run Flower alone on http://127.0.0.1:5555 (broker: REDIS_URL, else localhost:6379)
	@$(PY) -m grader flower --project "$(PROJECT)"

broker: $(VENV)/.installed ## Serve the embedded Redis-compatible broker on 127.0.0.1:6379
	@$(PY) -m grader broker

test: $(VENV)/.installed ## Run the workshop's own test suite
	@$(PY) -m pytest -n 2 $(ARGS)

$(VENV)/.bench: requirements-bench.txt $(VENV)/.installed
	@REQUIREMENTS=requirements-bench.txt sh scripts/setup.sh "$(PYTHON)" "$(VENV)"
	@touch $@

bench: $(VENV)/.bench ## Time the checkers and the feedback view, with a plot [PART=checks|feedback] [BASE=rev]
	@$(PY) -m bench $(if $(BASE),compare "$(BASE)",$(PART))

grade: $(VENV)/.installed ## Grade a class (instructors): SUBMISSIONS=dir OUT=dir [JOBS=n] [EXERCISES=01-08]
	@test -n "$(SUBMISSIONS)" || { echo "Usage: make grade SUBMISSIONS=folder OUT=folder [JOBS=2] [EXERCISES=01-03]"; exit 2; }
	@$(PY) -m grader grade "$(SUBMISSIONS)" --out "$(or $(OUT),grading-out)" $(if $(JOBS),--jobs $(JOBS)) $(if $(EXERCISES),--exercises $(EXERCISES))

gradescope: $(VENV)/.installed ## Build autograder.zip to upload to Gradescope [EXERCISES=01-03] [ZIP=file]
	@$(PY) -m grader gradescope --package "$(or $(ZIP),autograder.zip)" $(if $(EXERCISES),--exercises $(EXERCISES))

$(VENV)/.browser: requirements-browser.txt $(VENV)/.installed
	@REQUIREMENTS=requirements-browser.txt sh scripts/setup.sh "$(PYTHON)" "$(VENV)"
	@touch $@

screenshots: $(VENV)/.browser ## Take the lessons' and docs' screenshots again (needs Debian's chromium) [STAGES="3 4"]
	@$(PY) scripts/screenshots.py $(STAGES)

diagrams: $(VENV)/.browser ## Draw the lessons' Mermaid diagrams as SVG files (needs npm and chromium) [WRAP=1]
	@$(PY) scripts/diagrams.py $(if $(WRAP),--wrap) $(if $(FORCE),--force)

bench-grade: $(VENV)/.installed ## Measure grading a class built from the stages [SIZE=100 EXERCISES=01-08]
	@$(PY) -m bench.grade $(if $(SIZE),--size $(SIZE)) $(if $(EXERCISES),--exercises $(EXERCISES))

clean: ## Remove .venv and generated files
	rm -rf $(VENV) .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
