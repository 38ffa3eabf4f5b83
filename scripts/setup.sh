#!/usr/bin/env bash
# Set up gouji on a Debian machine (12 or 13), as root or as a user with sudo: system packages
# (CJK fonts for the pictures and the synthetic corpus, by scripts/apt_install.sh), a virtual
# environment in .venv, and the project with its extras. Safe to run again: a second run installs nothing and takes seconds.
#   scripts/setup.sh                 runtime + corpus generator (what `make demo` needs)
#   scripts/setup.sh test            + what the whole test suite exercises: the PaddleOCR engine
#                                      (scripts/install_paddle.sh), Ray, headless Chromium, shellcheck
#   scripts/setup.sh [test] --system-only    only the Debian packages (nothing in .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=run
SYSTEM_ONLY=0
for arg in "$@"; do
  case "$arg" in
    run|test) MODE=$arg ;;
    --system-only) SYSTEM_ONLY=1 ;;
    *) echo "usage: scripts/setup.sh [run|test] [--system-only]" >&2; exit 2 ;;
  esac
done

# Debian package names, the same on 12 (bookworm) and 13 (trixie).
apt_packages() {
  echo fonts-noto-cjk fonts-wqy-zenhei fonts-wqy-microhei fonts-arphic-ukai fonts-arphic-uming
  # LibreOffice converts .doc/.wps/.rtf/.odt/.et for pipeline/office.py (its tests run for real)
  # poppler-utils: pdftotext, the extractor most users flatten PDFs with (the flattened-text
  # tests, `make data` and `make bench` run it for real)
  if [ "$1" = test ]; then echo libreoffice-writer-nogui libreoffice-calc-nogui chromium shellcheck poppler-utils; fi
  # Debian's python3 makes no venv without this one (a Python of its own, e.g. pyenv, does)
  if ! "${PYTHON:-python3}" -c "import ensurepip" >/dev/null 2>&1; then echo python3-venv; fi
}

# What the Python side of a finished setup was made from; when it is unchanged the run is quick.
python_stamp() {
  cat pyproject.toml scripts/setup.sh scripts/install_paddle.sh | sha256sum | cut -d' ' -f1
}

python_packages() {
  local mode=$1 extras=test,synth stamp_file=".venv/.setup-$1" stamp
  if [ "$mode" = test ]; then extras=test,synth,ray; fi
  if ! { [ -x .venv/bin/python ] && .venv/bin/python -c "import sys" >/dev/null 2>&1; }; then
    "${PYTHON:-python3}" -m venv --clear .venv
  fi
  stamp=$(python_stamp)
  # a test setup holds everything a run setup does
  if grep -qx "$stamp" "$stamp_file" .venv/.setup-test 2>/dev/null; then
    echo "setup: .venv up to date ($mode)"
    return 0
  fi
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[$extras]"
  # layoutparser (region types lp.Layout / lp.TextBlock / lp.draw_box, pipeline/layout.py) without
  # its declared deps: its wheel requires opencv-python, which shares the cv2 folder with our
  # opencv-python-headless (breaks cv2, needs libGL). What the types use (numpy, pandas, pillow,
  # PyYAML, scipy, cv2) is in pyproject.toml; iopath, pdfplumber, pdf2image serve only its
  # detection models and PDF loader, which gouji does not use.
  .venv/bin/pip install -q --no-deps layoutparser==0.3.4
  if [ "$mode" = test ]; then bash scripts/install_paddle.sh; fi
  echo "$stamp" > "$stamp_file"
}

# shellcheck disable=SC2046  # one word per package name
bash scripts/apt_install.sh $(apt_packages "$MODE")
if [ "$SYSTEM_ONLY" = 0 ]; then
  python_packages "$MODE"
fi
