"""Peer systems `make bench` compares gouji with (see training/bench/).

* img2table_tesseract — img2table 2.0.0 + Tesseract chi_sim (run in .venv/peers);
* ppocr_naive — PP-OCR text lines with naive row/column clustering;
* number_stream — the integer-stream parser existing open-source tools use.
"""
