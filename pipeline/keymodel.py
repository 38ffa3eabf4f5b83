"""Learned cell-key mapper: a calibrated linear classifier over label-text features.

Same interface as classify.FuzzyMapper (predict_proba(texts, classes, context) → (n,
len(classes)+1), last column "none"), so the table decoder can use either. Why learned:
real reports reword labels, OCR garbles them and merged cells glue parent and child
labels; character n-grams, word tokens, ordinals and the cell's position separate the
classes far better than a single string similarity.

Model: a linear classifier with log loss (scikit-learn SGDClassifier, one-vs-rest; the
multinomial LogisticRegression is ~30x slower to fit here for the same accuracy) on sparse
binary features; softmax over its scores, temperature-scaled on a separate noisy
calibration set. After fitting, the weights are
kept as plain numpy arrays and scoring is plain numpy, so loading and using a shipped
model imports neither scikit-learn, scipy nor jieba (words come from jieba's segmentation
algorithm over a small dictionary of template words, see _Words).
"""
from __future__ import annotations

import functools
import math
import pickle
import re
import time
from pathlib import Path

import numpy as np

from .normalize import nfkc, normalize
from .resources import MODELS, load_pickle
from .values import blank_marks

MODEL_DIR = MODELS / "keys"
NONE, LEGACY = "none", "legacy"

# --- features -------------------------------------------------------------------------

_ORD = re.compile(r"([一二三四五六七八九十]+)[、.．]|[（(]([一二三四五六七八九十]+)[)）]|(?<![\d.])(\d{1,2})\s*[.、．](?!\d)")
_NUM = re.compile(r"^[+\-−]?\d[\d,，]*(?:\.\d+)?(?:万元|万|元|件|个|项|%)?$|^[(（]?\d+[)）]?$")
BLANKISH = blank_marks("key_blankish_marks")   # configs/values.yaml: shared blanks + "0" (features only)


def _shape(raw: str) -> str:
    s = nfkc(raw or "").strip().replace(" ", "")
    if s in BLANKISH:
        return "blank" if not s else "dash" if s in "/-—–——" else "zeroish"
    if _NUM.match(s):
        return "num"
    if re.fullmatch(r"[\d\s.,+\-()（）%万元件个]+", s):
        return "numlike"
    return "text"


_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&._%-]+)")


class _Words:
    """Word tokens: jieba's dictionary-based segmentation (its DAG + max-probability route,
    HMM off) over a small word list — the words jieba's full dictionary finds in the template
    labels, chosen at training time (training/keydata.vocabulary_words).

    Same algorithm as jieba.Tokenizer.cut(HMM=False) on that dictionary (tested), without
    importing jieba at run time: its import and 20 MB dictionary cost ~0.4 s + 0.7 s.
    """
    def __init__(self, words: tuple[str, ...]):
        self.freq: dict[str, int] = {}
        for w in words:
            self.freq[w] = self.freq.get(w, 0) + 10
            for i in range(1, len(w)):
                self.freq.setdefault(w[:i], 0)
        self.logtotal = math.log(max(sum(self.freq.values()), 1))

    def _block(self, s: str) -> list[str]:
        n, freq = len(s), self.freq
        dag = {}
        for k in range(n):
            ends, i, frag = [], k, s[k]
            while i < n and frag in freq:
                if freq[frag]:
                    ends.append(i)
                i += 1
                frag = s[k:i + 1]
            dag[k] = ends or [k]
        route = {n: (0.0, 0)}
        for i in range(n - 1, -1, -1):
            route[i] = max((math.log(freq.get(s[i:x + 1]) or 1) - self.logtotal + route[x + 1][0], x) for x in dag[i])
        out, x, buf = [], 0, ""
        while x < n:   # as jieba: runs of single ASCII letters/digits form one token
            y = route[x][1] + 1
            w = s[x:y]
            if len(w) == 1 and w.isascii() and w.isalnum():
                buf += w
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(w)
            x = y
        if buf:
            out.append(buf)
        return out

    def cut(self, text: str) -> list[str]:
        out = []
        for blk in _HAN.split(text or ""):
            if blk and _HAN.fullmatch(blk):
                out += [w for w in self._block(blk) if len(w) > 1]
        return out


def features(text: str, ctx: dict | None, words: _Words | None) -> list[str]:
    """Feature tokens of one cell: text n-grams, words, ordinals, shape, position, neighbour."""
    raw = text or ""
    n = normalize(raw)
    shape = _shape(raw)
    out = [f"s:{shape}", f"len:{min(len(n), 12) if len(n) < 12 else 12 + min(len(n) // 8, 6)}"]
    if n:
        b = f"^{n}$"
        for k in (1, 2, 3):
            out += [f"g{k}:{b[i:i + k]}" for i in range(len(b) - k + 1)]
        out += [f"pre2:{n[:2]}", f"pre3:{n[:3]}", f"suf2:{n[-2:]}", f"suf3:{n[-3:]}", f"suf4:{n[-4:]}", f"all:{n}"]
        if words is not None:
            out += [f"w:{w}" for w in words.cut(n)]
    ords = _ORD.findall(nfkc(raw))
    if ords:
        last = ords[-1]
        kind = "cn" if last[0] else "paren" if last[1] else "num"
        val = last[0] or last[1] or last[2]
        out += [f"ord:{kind}", f"ordv:{kind}{val}", f"ordn:{len(ords)}"]
    if ctx:
        tbl = ctx.get("table")
        hdr = ctx.get("header")
        if tbl:
            out.append(f"t:{tbl}")
        if hdr is not None:
            out.append(f"h:{int(bool(hdr))}")
            if tbl:
                out.append(f"th:{tbl}{int(bool(hdr))}")
        r, c = ctx.get("row"), ctx.get("col")
        if isinstance(r, int):
            out.append(f"r:{_bucket(r)}")
        if isinstance(c, int):
            out.append(f"c:{_bucket(c)}")
            if hdr is not None:
                out.append(f"hc:{int(bool(hdr))}{_bucket(c)}")
        prev = ctx.get("prev")
        if prev is not None:
            pn = normalize(str(prev))
            out.append(f"ps:{_shape(str(prev))}")
            if pn:
                out += [f"pg:{pn[i:i + 2]}" for i in range(max(len(pn) - 1, 1))]
                out.append(f"psuf:{pn[-3:]}")
    else:
        out.append("noctx")
    return out


def _bucket(i: int) -> str:
    return str(i) if i < 4 else "4-6" if i < 7 else "7-12" if i < 13 else "13-20" if i < 21 else "21+"


# --- the classifier --------------------------------------------------------------------

class KeyClassifier:
    """Cell text (+ optional context) → probabilities over label classes and "none".

    fit(texts, labels, context=None, sample_weight=None); predict_proba(texts, classes,
    context) restricted to ``classes`` + "none"; predict; score. Picklable; the fitted
    state is numpy arrays and a vocabulary dict.
    """
    name = "classifier"

    def __init__(self, C: float = 8.0, min_df: int = 2, max_features: int = 40000,
                 foreign_weight: float = 0.1, max_iter: int = 300, random_state: int = 0,
                 solver: str = "sgd", alpha: float = 1e-5):
        self.C, self.min_df, self.max_features = C, min_df, max_features
        self.solver, self.alpha = solver, alpha
        self.foreign_weight, self.max_iter, self.random_state = foreign_weight, max_iter, random_state
        self.classes_: list[str] = []
        self.vocab_: dict[str, int] = {}
        self.coef_ = None        # (n_classes, n_features) float16
        self.intercept_ = None   # (n_classes,) float32
        self.temperature_ = 1.0
        self.words_: tuple[str, ...] = ()
        self.meta_: dict = {}

    # -- pickling: the lazily built jieba tokenizer stays out of the file
    def __getstate__(self):
        d = dict(self.__dict__)
        d.pop("_words", None)
        d.pop("_wT", None)
        d.pop("_tw", None)
        return d

    @property
    def version(self) -> str:
        """Names the trained model in result files (doc.models["mapper"])."""
        return f"classifier:{self.meta_.get('data_hash', 'untracked')}"

    @property
    def words(self) -> _Words:
        w = self.__dict__.get("_words")
        if w is None:
            w = self.__dict__["_words"] = _Words(self.words_)
        return w

    def _tokens(self, texts, context):
        ctxs = context if context is not None else [None] * len(texts)
        return [features(t, c, self.words) for t, c in zip(texts, ctxs)]

    def _matrix(self, toks):
        from scipy import sparse
        rows, cols = [], []
        for i, ts in enumerate(toks):
            idx = {self.vocab_[t] for t in ts if t in self.vocab_}
            rows += [i] * len(idx)
            cols += sorted(idx)
        data = np.ones(len(rows), dtype=np.float32)
        X = sparse.csr_matrix((data, (rows, cols)), shape=(len(toks), len(self.vocab_)), dtype=np.float32)
        norms = np.sqrt(np.asarray(X.sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.diags(1.0 / norms).astype(np.float32) @ X

    def fit(self, texts, labels, context=None, sample_weight=None, calib=None, words=None):
        """Fit on cell texts and their classes; ``calib`` = (texts, labels, context) fits
        the temperature (default: a fifth of the data held out for it)."""
        from sklearn.linear_model import LogisticRegression, SGDClassifier
        texts, labels = list(texts), list(labels)
        if words is not None:
            self.words_ = tuple(sorted(set(words)))
            self.__dict__.pop("_words", None)
        toks = self._tokens(texts, context)
        df: dict[str, int] = {}
        for ts in toks:
            for t in set(ts):
                df[t] = df.get(t, 0) + 1
        kept = sorted((t for t, c in df.items() if c >= self.min_df), key=lambda t: (-df[t], t))[: self.max_features]
        self.vocab_ = {t: i for i, t in enumerate(sorted(kept))}
        X = self._matrix(toks)
        y = np.array(labels)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        t0 = time.perf_counter()
        if self.solver == "sgd":   # one-vs-rest log loss: ~30x faster than lbfgs here, as accurate
            lr = SGDClassifier(loss="log_loss", alpha=self.alpha, max_iter=max(self.max_iter // 3, 20), tol=1e-4,
                               random_state=self.random_state)
        else:
            lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        import warnings
        from sklearn.exceptions import ConvergenceWarning
        with warnings.catch_warnings():   # SGD's last epochs move the loss by <1e-4; not worth more
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr.fit(X, y, sample_weight=w)
        self.classes_ = [str(c) for c in lr.classes_]
        self.__dict__.pop("_wT", None)
        self.coef_ = lr.coef_.astype(np.float16)   # half the file; scores move by <1e-3
        self.intercept_ = lr.intercept_.astype(np.float32)
        self.temperature_ = 1.0
        if calib is not None:
            ct, cl, cc = calib
            self.temperature_ = self._fit_temperature(list(ct), list(cl), cc)
        self.meta_ = {"n_train": len(texts), "n_features": len(self.vocab_),
                      "fit_seconds": round(time.perf_counter() - t0, 2)}
        return self

    def _fit_temperature(self, texts, labels, context) -> float:
        from scipy.optimize import minimize_scalar
        z = self._logits(texts, context)
        idx = {c: i for i, c in enumerate(self.classes_)}
        keep = [i for i, l in enumerate(labels) if l in idx]
        z, y = z[keep], np.array([idx[labels[i]] for i in keep])

        def nll(logt):
            zt = z / math.exp(logt)
            zt = zt - zt.max(axis=1, keepdims=True)
            return float(-(zt[np.arange(len(y)), y] - np.log(np.exp(zt).sum(axis=1))).mean())
        res = minimize_scalar(nll, bounds=(-3, 3), method="bounded")
        return float(math.exp(res.x))

    def _logits(self, texts, context=None) -> np.ndarray:
        """Scores without scipy: each row sums the weight rows of its features (binary,
        L2-normalised, exactly as _matrix builds them for fitting)."""
        wT = self.__dict__.get("_wT")
        if wT is None:
            wT = self.__dict__["_wT"] = np.ascontiguousarray(self.coef_.T)
        toks = self._tokens(list(texts), context)
        out = np.tile(self.intercept_.astype(np.float64), (len(toks), 1))
        for i, ts in enumerate(toks):
            idx = sorted({self.vocab_[t] for t in ts if t in self.vocab_})
            if idx:
                out[i] += wT[idx].sum(axis=0, dtype=np.float64) / math.sqrt(len(idx))
        return out

    def _twins(self) -> dict[str, set[str]]:
        """Classes whose printed labels share a normalised text (总计, 其他 …)."""
        tw = self.__dict__.get("_tw")
        if tw is None:
            from .templates import all_label_classes
            texts = {c: {normalize(t) for t in ts} for c, ts in all_label_classes().items()}
            tw = {a: {b for b in texts if b != a and texts[a] & texts[b]} for a in texts}
            self.__dict__["_tw"] = tw
        return tw

    def proba_all(self, texts, context=None) -> np.ndarray:
        """Calibrated probabilities over every class the model knows (self.classes_)."""
        if not len(texts):
            return np.zeros((0, len(self.classes_)))
        z = self._logits(texts, context) / self.temperature_
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict_proba(self, texts, classes=None, context=None) -> np.ndarray:
        """(n, len(classes)+1): requested classes then "none".

        A class the caller did not ask for is evidence that the cell is a label, but not
        one of these: ``foreign_weight`` of its probability goes to "none" and the rest
        is dropped before renormalising (行政许可 asked among the requests rows maps to
        none); without context, the mass of a class printing the same words as a requested
        one goes to it (总计 asked among the requests rows maps to the total row).
        """
        texts = list(texts)
        if classes is None:
            classes = [c for c in self.classes_ if c not in (NONE, LEGACY)]
        P = self.proba_all(texts, context)
        if len(P) == 0:
            return np.zeros((0, len(classes) + 1))
        idx = {c: i for i, c in enumerate(self.classes_)}
        cols = [idx.get(c) for c in classes]
        out = np.zeros((len(texts), len(classes) + 1))
        for j, i in enumerate(cols):
            if i is not None:
                out[:, j] = P[:, i]
        asked = {i for i in cols if i is not None}
        none_i = [idx[c] for c in (NONE, LEGACY) if c in idx]
        foreign = [i for i in range(len(self.classes_)) if i not in asked and i not in none_i]
        # Without context, a class that prints the same words as a requested one (总计: the
        # requests row, the requests column, the appeals column) is the same evidence: its
        # mass goes to the requested twin(s), not to "none".
        no_ctx = np.array([True] * len(texts) if context is None else [not c for c in context], dtype=bool)
        twins = self._twins()
        fw = np.full((len(texts), len(foreign)), self.foreign_weight)
        if no_ctx.any():
            for k, f in enumerate(foreign):
                rs = [j for j, i in enumerate(cols) if i is not None and self.classes_[i] in twins.get(self.classes_[f], ())]
                if rs:
                    for j in rs:
                        out[no_ctx, j] += P[no_ctx, f] / len(rs)
                    fw[no_ctx, k] = 0.0
        out[:, -1] = P[:, none_i].sum(axis=1) + (fw * P[:, foreign]).sum(axis=1)
        s = out.sum(axis=1, keepdims=True)
        out[s[:, 0] <= 1e-12, -1] = 1.0
        s[s <= 1e-12] = 1.0
        return out / s

    def predict(self, texts, classes=None, context=None) -> list[str]:
        if classes is None:
            P = self.proba_all(list(texts), context)
            return [self.classes_[i] if self.classes_[i] != LEGACY else NONE for i in P.argmax(axis=1)]
        p = self.predict_proba(texts, classes, context)
        names = list(classes) + [NONE]
        return [names[i] for i in p.argmax(axis=1)]

    def score(self, texts, labels, classes=None, context=None) -> float:
        labels = [NONE if l == LEGACY else l for l in labels]
        pred = self.predict(texts, classes, context)
        return float(np.mean([a == b for a, b in zip(pred, labels)])) if len(labels) else 0.0

    # -- template detection from the same evidence --------------------------------------
    def detect_template(self, texts, context=None) -> dict[str, float]:
        """P(template) from a table's (or document's) label texts: labels only one template
        prints vote for it, pre-2019 statistics wording votes "unsupported"."""
        from .templates import label_classes, templates
        texts = [t for t in texts if t and normalize(t)]
        ts = templates()
        # a class counts for a template only where the template expects it (the 2021
        # template accepts the 2019 one-row 其他处理 but does not print it)
        sets = {n: set(label_classes(t)) - {f"requests.row:{r.key}" for r in t.request_rows if not r.expected}
                for n, t in ts.items()}
        shared = set.intersection(*sets.values()) if sets else set()
        unique = {n: s_ - set().union(*(v for k, v in sets.items() if k != n)) for n, s_ in sets.items()}
        P = self.proba_all(texts, context) if texts else np.zeros((0, len(self.classes_)))
        idx = {c: i for i, c in enumerate(self.classes_)}

        def mass(cs):
            ii = [idx[c] for c in cs if c in idx]
            return float(P[:, ii].sum()) if ii and len(P) else 0.0
        ev = {n: mass(u) for n, u in unique.items()}
        common = mass(shared)
        legacy = mass([LEGACY])
        # logits: unique evidence counts strongly; shared labels only say "a supported table"
        logit = {n: 2.0 * e + 0.5 * math.log1p(common) for n, e in ev.items()}
        logit["unsupported"] = 2.0 * legacy + (1.5 if common + sum(ev.values()) < 1.0 else 0.0)
        m = max(logit.values())
        ex = {k: math.exp(v - m) for k, v in logit.items()}
        s = sum(ex.values())
        return {k: v / s for k, v in ex.items()}


def save(model: KeyClassifier, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return path


def load(path: str | Path) -> KeyClassifier:
    m = load_pickle(path)
    if not isinstance(m, KeyClassifier):
        raise TypeError(f"{path}: not a KeyClassifier")
    return m


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> KeyClassifier:
    return load(path)


def load_default(model_dir: str | Path | None = None) -> KeyClassifier | None:
    """The shipped model (models/keys/model.pkl), cached; None when none is shipped."""
    p = Path(model_dir or MODEL_DIR) / "model.pkl"
    if not p.exists():
        return None
    return _load_cached(str(p), p.stat().st_mtime)
