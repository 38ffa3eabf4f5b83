#!/usr/bin/env bash
# Set up gouji on a fresh Debian machine: system packages (CJK fonts for the synthetic
# corpus and the pictures), a virtual environment, and the project with its extras.
#   scripts/setup.sh            runtime + corpus generator (what `make demo` needs)
#   scripts/setup.sh test       + what the whole test suite exercises: the PaddleOCR engine
#                                 (scripts/install_paddle.sh), Ray, headless Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-run}
APT_PKGS="fonts-noto-cjk fonts-wqy-zenhei fonts-wqy-microhei fonts-arphic-ukai fonts-arphic-uming"
EXTRAS="test,synth"
if [ "$MODE" = test ]; then
  APT_PKGS="$APT_PKGS chromium"
  EXTRAS="test,synth,ray"
fi
missing=""
for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q && $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[$EXTRAS]"
# layoutparser (region types lp.Layout / lp.TextBlock / lp.draw_box, pipeline/layout.py) without its
# declared deps: its wheel requires opencv-python, which shares the cv2 folder with our
# opencv-python-headless (breaks cv2, needs libGL). What the types use (numpy, pandas, pillow,
# PyYAML, scipy, cv2) is in pyproject.toml; iopath, pdfplumber, pdf2image serve only its
# detection models and PDF loader, which gouji does not use.
.venv/bin/pip install -q --no-deps layoutparser==0.3.4
if [ "$MODE" = test ]; then bash scripts/install_paddle.sh; fi
