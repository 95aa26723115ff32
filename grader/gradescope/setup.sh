#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder: it installs Python and
# this repository's .venv. The repository is unpacked in /autograder/source.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq make python3 python3-venv python3-pip >/dev/null
cd /autograder/source
make setup
