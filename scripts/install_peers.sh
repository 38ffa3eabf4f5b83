#!/usr/bin/env bash
# Install the peer tools `make bench` compares gouji with (idempotent; run by
# training/bench/ when a peer is missing):
#   * Tesseract 5 with the simplified-Chinese model (Debian packages);
#   * img2table 2.0.0 in its own virtual environment .venv/peers, because it needs
#     opencv-contrib-python (cv2.ximgproc), which would replace the project's
#     opencv-python-headless if both lived in .venv;
#   * matplotlib (the accuracy-vs-speed plot) in the project venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/apt_install.sh tesseract-ocr tesseract-ocr-chi-sim
PY=${PYTHON:-python3}
PEERS=.venv/peers
if ! "$PEERS/bin/python" -c "import img2table, cv2.ximgproc" >/dev/null 2>&1; then
  [ -x "$PEERS/bin/python" ] || "$PY" -m venv "$PEERS"
  "$PEERS/bin/pip" install -q img2table==2.0.0 opencv-contrib-python==5.1.0.95 pillow==13.0.0
fi
if ! .venv/bin/python -c "import matplotlib" >/dev/null 2>&1; then
  .venv/bin/pip install -q matplotlib==3.11.2
fi
echo "peers ready: $(tesseract --version 2>&1 | head -1); img2table $("$PEERS/bin/python" -c 'import importlib.metadata as m; print(m.version("img2table"))'); matplotlib $(.venv/bin/python -c 'import matplotlib; print(matplotlib.__version__)')"
