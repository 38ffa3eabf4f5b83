"""Score stage: calibrated confidence per cell and per document.

A cell's confidence is the calibrated probability that its value is what is printed.
It combines the recogniser's evidence (top probability, margin to the runner-up) with
the solver's (status, how many equations that hold contain the cell, the gap in nats
to the best explanation with a different value): a digit confirmed by two equations is
surer than one confirmed by one, and surer than one in none. The mapping from these
features to a probability is fitted on held-out data (training/calibrate.py →
models/calibration/): a monotone gradient-boosted model, then Platt scaling on a held-out
split (strictly monotone, so more evidence never ties with less; isotonic is an option).

The document confidence is the calibrated probability that every cell is right (Platt
scaling of Σ log cell confidence). Text inputs (one reading of probability 1 per cell)
are capped (configs/scoring.yaml) instead: the scan calibrator knows nothing of them.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from .model import POSITION_DOUBT, Document
from .templates import config
from .resources import ROOT, load_pickle

FEATURES = ("logit_top", "logit_chosen", "margin", "n_readings", "corrected", "inferred", "conflict",
            "unknown", "blank", "in_equations", "n_sat", "n_viol", "gap", "has_gap", "locked",
            "certain_reading", "row_blank_share", "row_zero_share")
# +1 the probability can only rise with the feature, −1 only fall, 0 free
MONOTONE = {"logit_top": 1, "logit_chosen": 1, "margin": 1, "n_sat": 1, "n_viol": -1, "gap": 1,
            "unknown": -1}


def settings() -> dict:
    return dict(config("scoring.yaml"))


def _logit(p: float, clip: float) -> float:
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return max(-clip, min(clip, math.log(p / (1 - p))))


def same_value(a, b) -> bool:
    """Two cell values equal as numbers (None only equals None); the one equality scoring and calibration share."""
    if a is None or b is None:
        return a is None and b is None
    try:
        return abs(float(a) - float(b)) < 1e-9
    except (TypeError, ValueError):
        return a == b


def _equation_keys(doc: Document) -> dict[str, tuple[str, ...]]:
    from .solve import equations_for
    try:
        return {e.name: e.lhs + e.rhs for e in equations_for(doc)}
    except Exception:
        return {}


def cell_features(doc: Document) -> tuple[list[str], np.ndarray]:
    """One feature row per field (order FEATURES), from the fields, checks and the
    solver's evidence (doc.solver_evidence, absent when the solver did not run)."""
    cfg = settings()
    clip, cap = float(cfg["logit_clip"]), float(cfg["gap_cap"])
    eq_keys = _equation_keys(doc)
    sat: dict[str, int] = {}
    viol: dict[str, int] = {}
    for c in doc.checks:
        for k in eq_keys.get(c.equation, ()):
            d = sat if c.holds else viol
            d[k] = d.get(k, 0) + 1
    in_eq = {k for ks in eq_keys.values() for k in ks}
    ev_all = getattr(doc, "solver_evidence", {}) or {}
    # how the cell's row prints "nothing": a blank among zeros is likely a missed "0"
    row_n: dict[str, list[int]] = {}
    for key, f in doc.fields.items():
        t = row_n.setdefault(key.rsplit("/", 1)[0], [0, 0, 0])
        t[0] += 1
        t[1] += f.value is None and not f.illegible
        t[2] += _is_zero(f.value)
    keys, rows = [], []
    for key, f in doc.fields.items():
        ev = ev_all.get(key, {})
        alts = sorted(((v, float(p)) for v, p in (f.alternatives or []) if _finite(p)), key=lambda t: -t[1])
        p1 = alts[0][1] if alts else 0.0
        p2 = alts[1][1] if len(alts) > 1 else 0.0
        pc = sum(p for v, p in alts if same_value(v, f.value)) if (alts and not (f.illegible and f.status != "inferred")) else 0.0
        gap = ev.get("gap")
        unknown = f.illegible and f.status != "inferred"
        rows.append([
            _logit(p1, clip), _logit(pc, clip), p1 - p2, min(len(alts), 5),
            float(f.status == "corrected"), float(f.status == "inferred"), float(f.status == "conflict"),
            float(unknown), float(f.value is None and not unknown), float(key in in_eq),
            float(min(sat.get(key, 0), 3)), float(min(viol.get(key, 0), 3)),
            float(min(gap, cap)) / cap if gap is not None else 0.0, float(gap is not None),
            float(bool(ev.get("locked", p1 >= 0.97))), float(len(alts) == 1 and p1 >= 1.0),
            *_row_shares(row_n[key.rsplit("/", 1)[0]], f),
        ])
        keys.append(key)
    return keys, np.array(rows, dtype=float).reshape(len(rows), len(FEATURES))


def _is_zero(v) -> bool:
    try:
        return v is not None and float(v) == 0
    except (TypeError, ValueError):
        return False


def _row_shares(t: list[int], f) -> tuple[float, float]:
    """Shares of blanks and zeros among the *other* cells of the row."""
    n, b, z = t[0] - 1, t[1] - (f.value is None and not f.illegible), t[2] - _is_zero(f.value)
    return (b / n, z / n) if n > 0 else (0.0, 0.0)


def _finite(p) -> bool:
    try:
        return math.isfinite(float(p))
    except (TypeError, ValueError):
        return False


def _logits(p) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p)).reshape(-1, 1)


class CellCalibrator:
    """P(cell value is what is printed | features): monotone boosted trees, then Platt
    scaling (default; strictly monotone) or isotonic regression on held-out rows.

    scikit-learn style (fit / predict_proba / predict / score), picklable. `fit` takes
    the training rows for the trees and separate held-out rows for the calibration map.
    """

    def __init__(self, max_iter: int = 200, learning_rate: float = 0.05, max_depth: int = 3,
                 random_state: int = 0, method: str = "platt"):
        self.max_iter, self.learning_rate, self.max_depth = max_iter, learning_rate, max_depth
        self.random_state, self.method = random_state, method

    def fit(self, X, y, X_cal=None, y_cal=None):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.isotonic import IsotonicRegression
        X, y = np.asarray(X, float), np.asarray(y, int)
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, max_depth=self.max_depth,
            monotonic_cst=[MONOTONE.get(f, 0) for f in FEATURES], l2_regularization=1.0,
            random_state=self.random_state)
        self.model_.fit(X, y)
        if X_cal is None:
            X_cal, y_cal = X, y
        raw = self._raw(np.asarray(X_cal, float))
        y_cal = np.asarray(y_cal, int)
        if self.method == "isotonic":
            self.iso_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
            self.iso_.fit(raw, y_cal)
        else:   # Platt on the logit: strictly monotone, so no ties between unequal evidence
            from sklearn.linear_model import LogisticRegression
            lr = LogisticRegression(C=1e4).fit(_logits(raw), y_cal)
            self.platt_ = (float(lr.coef_[0, 0]), float(lr.intercept_[0]))
        self.features_ = FEATURES
        return self

    def recalibrated(self, X_cal, y_cal, method: str | None = None):
        """A copy with the same trees and the calibration map refitted on other rows: real
        recogniser output, which is scarce (thousands of cells, tens wrong) where the
        simulated rows the trees learnt from are plenty. The map stays increasing in the
        trees' score, so the result stays monotone in the evidence."""
        import copy
        out = copy.deepcopy(self)
        out.method = method or self.method
        raw = self._raw(np.asarray(X_cal, float))
        y_cal = np.asarray(y_cal, int)
        if len(set(y_cal.tolist())) < 2:
            raise ValueError(f"recalibration needs right and wrong cells; got {len(y_cal)} cells, all "
                             f"{'right' if len(y_cal) and y_cal[0] else 'wrong'}")
        if out.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression
            out.iso_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
            out.iso_.fit(raw, y_cal)
        else:
            from sklearn.linear_model import LogisticRegression
            lr = LogisticRegression(C=1e4).fit(_logits(raw), y_cal)
            a = max(float(lr.coef_[0, 0]), 1e-3)          # increasing, whatever the data say
            out.platt_ = (a, float(lr.intercept_[0]))
        return out

    def _raw(self, X):
        return self.model_.predict_proba(X)[:, 1]

    def _calibrate(self, raw):
        if getattr(self, "method", "isotonic") == "isotonic":
            return self.iso_.predict(raw)
        a, b = self.platt_
        return 1 / (1 + np.exp(-(a * _logits(raw)[:, 0] + b)))

    def predict_proba(self, X) -> np.ndarray:
        X = np.asarray(X, float).reshape(-1, len(FEATURES))
        p = self._calibrate(self._raw(X)) if len(X) else np.zeros(0)
        p = np.clip(p, 1e-4, 1 - 1e-5)     # never certain
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def score(self, X, y) -> float:
        """Negative Brier score (higher is better, scikit-learn convention)."""
        p = self.predict_proba(X)[:, 1]
        return -float(np.mean((p - np.asarray(y, float)) ** 2))


class DocCalibrator:
    """P(every cell right) from Σ log cell confidence (Platt scaling, one feature)."""

    def fit(self, s, y):
        from sklearn.linear_model import LogisticRegression
        s = np.asarray(s, float).reshape(-1, 1)
        y = np.asarray(y, int)
        if len(set(y.tolist())) < 2:     # degenerate data: use the product as is
            self.coef_, self.intercept_ = None, None
            return self
        lr = LogisticRegression(C=100.0).fit(s, y)
        self.coef_, self.intercept_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        return self

    def predict_proba(self, s) -> np.ndarray:
        s = np.asarray(s, float)
        if self.coef_ is None:
            p = np.exp(s)
        else:
            p = 1 / (1 + np.exp(-(self.coef_ * s + self.intercept_)))
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return np.column_stack([1 - p, p])

    def predict(self, s):
        return (self.predict_proba(s)[:, 1] >= 0.5).astype(int)

    def score(self, s, y) -> float:
        return -float(np.mean((self.predict_proba(s)[:, 1] - np.asarray(y, float)) ** 2))


@functools.lru_cache(maxsize=4)
def load_model(path: str | None = None):
    """The shipped calibrators {"cells", "document", "meta"}, or None when absent."""
    p = Path(path or (ROOT / settings()["model"]))
    if not p.exists():
        return None
    return load_pickle(p)


def warm_calibrator() -> None:
    """Load the calibrators: unpickling imports sklearn (~3 CPU s). Called where workers
    are forked from (batch/warm.py), so a batch pays it once instead of on each worker's
    first document. Not predict_proba: it starts sklearn's OpenMP threads, and a worker
    forked from a process with OpenMP threads deadlocks in its own first predict (seen)."""
    load_model()


TEXT_KINDS = {"text", "html", "markdown", "digital_pdf"}
SCAN_KINDS = {"scanned_pdf", "image"}


def _is_text(doc: Document) -> bool:
    """Text inputs get capped confidences: by the source kind, else when every cell has
    one reading of probability 1 (a scan stays a scan even if its recogniser says 1.0)."""
    kind = getattr(doc.source, "kind", "unknown")
    if kind in TEXT_KINDS:
        return True
    if kind in SCAN_KINDS:
        return False
    fs = [f for f in doc.fields.values() if not f.illegible]
    return bool(fs) and len(fs) == len(doc.fields) and all(
        len(f.alternatives) <= 1 and all(_finite(p) and float(p) >= 1.0 for _, p in f.alternatives)
        for f in fs)


def floor_blank_rows(conf: np.ndarray, X: np.ndarray, keys: list[str], doc: Document, cfg: dict,
                     failed: bool = False) -> np.ndarray:
    """A printed blank in a wholly blank row, in `min_sat`+ holding equations and none broken,
    gets at least `floor` (configs/scoring.yaml blank_rows: the calibrator, fitted on simulated
    misses, gives them 0.84–0.93; on real output they were right). Not on a page the reader
    failed on (`failed`: val_00001 light lost a row 1 0 0 0 0 0 1 as blanks, totals alike)."""
    if not cfg.get("enabled") or failed:
        return conf
    col = {f: i for i, f in enumerate(FEATURES)}
    floor, n_sat = float(cfg.get("floor", 0.998)), float(cfg.get("min_sat", 2))
    n_sat_marks = float(cfg.get("marks_min_sat", n_sat))
    min_top = _logit(float(cfg.get("min_top", 0.9)), 1e9)
    from .values import blank_marks
    from .ocr import normalise_text
    marks = blank_marks("grid_blank_marks") - {""}
    out = np.array(conf, dtype=float)
    for i, k in enumerate(keys):
        f, r = doc.fields[k], X[i]
        if not (f.value is None and f.status == "read" and not f.illegible and f.alternatives
                and f.alternatives[0][0] is None and r[col["logit_top"]] >= min_top
                and r[col["row_blank_share"]] >= 1.0 and r[col["n_viol"]] == 0):
            continue
        printed = normalise_text(f.text or "") in marks      # a mark read, not a cell without ink
        if r[col["n_sat"]] >= (n_sat_marks if printed else n_sat):
            out[i] = max(out[i], floor)
    return out


def map_unbound_top(conf: np.ndarray, X: np.ndarray, keys: list[str], doc: Document, cfg: dict,
                    threshold: float) -> np.ndarray:
    """A number read in a cell no equation binds (主动公开), calibrated at `from`+: mapped
    linearly from [from, 1] onto [threshold, 1] (configs/scoring.yaml unbound_top; on real
    output every such cell in [0.99, 0.995) was right, docs/scans.md). Doubts still cap it."""
    if not cfg.get("enabled"):
        return conf
    lo = float(cfg.get("from", 0.99))
    col = {f: i for i, f in enumerate(FEATURES)}
    out = np.array(conf, dtype=float)
    for i, k in enumerate(keys):
        f = doc.fields[k]
        if (f.value is not None and f.status == "read" and not f.illegible and X[i][col["in_equations"]] == 0
                and lo <= out[i] < threshold):
            out[i] = threshold + (out[i] - lo) / (1 - lo) * (1 - threshold)
    return out


def _doubt_correction(f, zero_shapes: frozenset = frozenset(), statuses: tuple = ("corrected",)) -> None:
    """A value the solver put in place of a clean printed number with another count of
    digits, 0 in place of a clean non-zero number (a printed 10 or 4 'corrected' to 0
    because other cells of its row were misread), or a non-zero number in place of a clean
    printed 0 (a thinned scan's faint 0s read as 1 make their total 1) or of one character
    a whole or broken 0 is read as (`zero_shapes`: a thinned 0 that lost its lower arc
    reads 'n'): the equations chose it, the page contradicts it. `statuses` with "read": a
    reading chosen among the cell's readings too (val_00006 heavy: 186 read '100', taken as 0)."""
    t = "".join(f.text.split())
    if f.status not in statuses:
        return
    if t and t in zero_shapes and f.value not in (None, 0):
        why = f"the equations' value {f.value} where {t!r} was read: the shape of a 0"
        if why not in f.doubts:
            f.doubts.append(why)
        return
    if not t.isdigit():
        return
    v = f.value
    if v is not None and not (isinstance(v, (int, float)) and float(v).is_integer()):
        return
    n = 0 if v is None else len(str(abs(int(v))))
    why = None
    if n != len(t):
        why = f"the equations' value {v} has {n} digits where {len(t)} are printed ({t})"
    elif not v and int(t) != 0:
        why = f"the equations' value {v} where {t} is printed"
    elif v and int(t) == 0:             # the other way: a thinned scan's 0s read as 1 balance
        why = f"the equations' value {v} where 0 is printed"
    if why and why not in f.doubts:
        f.doubts.append(why)


def _doubt_blank_or_zero(f, cfg: dict) -> None:
    """A 0 or a blank its own mark contradicts. The equations cannot tell a printed blank
    from a 0 (both add nothing), so only the cell's mark can: a 0 needs a zero character
    (`zero_texts`) in what was read, a blank no digit. Anything else (a seal's text or a
    fax streak read as 0, a lone solid blob taken for 0, a dash 'corrected' to 0, a 1
    'corrected' to blank) is doubted, as is a 0 or blank inferred from the equations: they
    had been 0.999 sure (issue 14, printed blanks returned as 0 on heavy scans)."""
    v = f.value
    if f.illegible and f.status != "inferred":
        return
    if v is not None and not _is_zero(v):
        return
    t = "".join((f.text or "").split())
    zeros = set(cfg.get("zero_texts", ["0"]))
    has_zero = any(ch in zeros for ch in t)
    if f.status == "inferred":
        why = f"{'a blank' if v is None else '0'} inferred from the equations, which a blank and a 0 balance alike"
    elif v is None:
        why = None if not (has_zero or any(ch.isdigit() for ch in t)) else f"a blank where {t!r} was read"
    else:
        why = None if has_zero else f"0 where {t!r} was read: a mark, not a printed 0"
    if why and why not in f.doubts:
        f.doubts.append(why)


def failed_reading(doc: Document, cfg: dict) -> str | None:
    """Why the reader failed on this document (configs/scoring.yaml sanity.failed_reading:
    `missing_min` expected cells missing, or `doubted_share` of its cells doubted), or None."""
    n = int(cfg.get("missing_min", 0) or 0)
    share, doubted = cfg.get("doubted_share"), sum(1 for f in doc.fields.values() if f.doubts)
    lost = len(doc.missing) + sum(1 for f in doc.fields.values() if POSITION_DOUBT in f.doubts)  # placed by position: not found
    if n > 0 and lost >= n:
        return f"{lost} expected cells missing or placed by position alone in this document and no equation that holds confirms it"
    if share is not None and doubted >= max(float(share) * len(doc.fields), n):
        return (f"{doubted} of the document's {len(doc.fields)} cells doubted by the sanity guards and no "
                "equation that holds confirms it")
    return None


def _doubt_failed_reading(doc: Document, cfg: dict) -> None:
    """On a page the reader failed on (failed_reading) the calibrator, fitted on pages it
    read, overstates the cells no holding equation confirms (a thinned 4 read as 1 at
    0.9999 in a column no equation binds): those are doubted."""
    why = failed_reading(doc, cfg)
    if why is None:
        return
    eq_keys = _equation_keys(doc)
    confirmed = {k for c in doc.checks if c.holds for k in eq_keys.get(c.equation, ())}
    for k, f in doc.fields.items():
        if k not in confirmed and why not in f.doubts:
            f.doubts.append(why)


def _doubt_set_by_doubted(doc: Document) -> None:
    """A value the equations set (`corrected`, `inferred`) is no surer than the other cells
    of the equations it stands in: where one of them is doubted, the solver balanced the
    equation on a guess (val_00009 heavy: a printed 36 read blank and a 54 read 40, both
    below review, made their row's total 112 where 162 is printed, at 0.998)."""
    eq_keys = _equation_keys(doc)
    doubted = {k for k, f in doc.fields.items() if f.doubts}
    for keys in eq_keys.values():
        shaky = doubted.intersection(keys)
        if not shaky:
            continue
        for k in keys:
            f = doc.fields.get(k)
            if f is None or f.status not in ("corrected", "inferred") or not shaky - {k}:
                continue
            why = "set by equations that balance only on doubted cells: " + ", ".join(sorted(shaky - {k})[:3])
            if why not in f.doubts:
                f.doubts.append(why)


def score(doc: Document, model=None) -> None:
    """Set every field's confidence, the document confidence and needs_review (also for
    a count the report's text states differently: crosscheck.narrative)."""
    cfg = settings()
    if not doc.fields:
        doc.confidence = None
        return
    keys, X = cell_features(doc)
    if _is_text(doc):
        t = cfg["text"]
        col = {f: i for i, f in enumerate(FEATURES)}
        conf = np.array([t["conflict"] if r[col["conflict"]] else
                         t.get("inferred", 0.9) if r[col["inferred"]] else
                         t["blank"] if r[col["blank"]] else
                         t["confirmed"] if r[col["n_sat"]] > 0 else t["unconfirmed"] for r in X])
        doc.models["confidence"] = "capped (text input)"
        doc_conf = float(np.exp(np.sum(np.log(conf))))
    else:
        m = model or load_model()
        if m is None:
            p1 = np.clip(1 / (1 + np.exp(-X[:, 0])), 0, 1)
            s = float(cfg["fallback_shrink"])
            conf = 0.5 + s * (p1 - 0.5)
            doc.models["confidence"] = "uncalibrated fallback (no model)"
            doc_conf = float(np.exp(np.sum(np.log(np.clip(conf, 1e-6, 1)))))
        else:
            conf = m["cells"].predict_proba(X)[:, 1]
            failed = failed_reading(doc, (cfg.get("sanity") or {}).get("failed_reading") or {}) is not None
            conf = floor_blank_rows(conf, X, keys, doc, cfg.get("blank_rows") or {}, failed)
            conf = map_unbound_top(conf, X, keys, doc, cfg.get("unbound_top") or {}, float(cfg["review_threshold"]))
            doc.models["confidence"] = f"calibration {m.get('meta', {}).get('version', '?')}"
            doc_conf = float(m["document"].predict_proba([np.sum(np.log(conf))])[0, 1])
    # a value read right but put under a doubtful key is no surer than its placement
    place = np.array([min(1.0, float(getattr(doc.fields[k], "placement", 1.0))) for k in keys])
    if (place < 1).any():
        conf = np.minimum(conf, place)
        doc_conf = min(doc_conf, float(np.prod(place)))
    # a cell a sanity guard doubts (classify.sanity: the page contradicts the reading) is
    # no surer than the cap, below the review threshold
    cap = float((cfg.get("sanity") or {}).get("cap", 0.9))
    if (cfg.get("sanity") or {}).get("corrected_digits", True):
        bz = (cfg.get("sanity") or {}).get("blank_or_zero") or {}
        shapes = frozenset(bz.get("zero_texts", ["0"])) | frozenset(bz.get("broken_zero_texts", []))
        # a text layer's cell text is the printed value itself (or a joined run): only scans
        read_too = (cfg.get("sanity") or {}).get("read_digits", False) and not _is_text(doc)
        statuses = ("corrected", "read") if read_too else ("corrected",)
        for k in keys:
            _doubt_correction(doc.fields[k], shapes, statuses)
    if not _is_text(doc):       # a text layer prints what it prints: its blanks and 0s are clean
        bz = (cfg.get("sanity") or {}).get("blank_or_zero")
        if bz:
            for k in keys:
                _doubt_blank_or_zero(doc.fields[k], bz)
        _doubt_failed_reading(doc, (cfg.get("sanity") or {}).get("failed_reading") or {})
        if (cfg.get("sanity") or {}).get("set_by_doubted", False):
            _doubt_set_by_doubted(doc)
    doubted = np.array([bool(getattr(doc.fields[k], "doubts", None)) for k in keys])
    if doubted.any():
        conf = np.where(doubted, np.minimum(conf, cap), conf)
        doc_conf = min(doc_conf, cap)
    for k, c in zip(keys, conf):
        doc.fields[k].confidence = float(c)
    doc.confidence = doc_conf
    threshold = float(cfg["review_threshold"])
    needs = any(float(c) < threshold for c in conf) or any(f.status == "conflict" for f in doc.fields.values())
    if needs and doc.status == "ok":
        doc.status = "needs_review"
    from .crosscheck import narrative
    narrative(doc)   # counts the text states against the final values: a mismatch is for review
