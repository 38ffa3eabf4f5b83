"""The int8 recogniser tool (training/quantize_rec.py) and the config switch that selects a
recogniser by path (configs/ocr.yaml engines.rapidocr.rec_model)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.ocr import candidates, rec_model_path
from pipeline.resources import ROOT
from tests.test_ocr import _render


def test_rec_model_by_name_is_the_wheels_and_by_path_the_checkouts():
    wheel = Path("/wheel/models")
    assert rec_model_path("PP-OCRv6_rec_small.onnx", wheel) == wheel / "PP-OCRv6_rec_small.onnx"
    assert rec_model_path("models/ocr/rec_int8.onnx", wheel) == ROOT / "models/ocr/rec_int8.onnx"


def _crops():
    out = []
    for t in ["40661", "211.509万", "-1942", "申请人情况"]:
        c = _render(t)
        pad = np.full((c.shape[0], c.shape[0]), 255, np.uint8)
        out.append(np.hstack([pad, c, pad]))
    return out


def test_int8_recogniser_loads_and_reads_a_sample_like_fp32(tmp_path):
    pytest.importorskip("onnxruntime.quantization")
    import onnxruntime as ort
    from pipeline.ocr import CTCDecoder, session_options
    from training import quantize_rec as q
    crops = _crops()
    batch = [(c, 10.0) for c in crops]              # padded to 480 px as a page's batch would be
    out = q.quantize([batch], tmp_path / "rec_int8.onnx", n=1)
    assert out.stat().st_size < q.wheel_model().stat().st_size   # int8 weights
    res = q.compare(q.wheel_model(), [out], [batch])
    agree = res["agreement"][str(out)]
    assert agree["crops"] == 4 and agree["same_text"] == 4, res["differences"]
    assert agree["numbers"] == 3 and agree["same_candidates"] == 3
    # and it reads the numbers right, not only like fp32
    s = ort.InferenceSession(str(out), session_options(1), providers=["CPUExecutionProvider"])
    dec = CTCDecoder(["<blank>"] + s.get_modelmeta().custom_metadata_map["character"].splitlines() + [" "])
    y = s.run(None, {"x": q.inputs(batch)})[0]
    assert candidates(dec.decode(y[0]).slots)[0][0] == 40661
