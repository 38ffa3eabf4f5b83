"""The learned cell-key mapper (pipeline/keymodel.py) and its training loop (training/train_keys.py).

Models here are trained on a small draw (3 renderings per wording) so the file stays fast.
"""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from pipeline.classify import FuzzyMapper
from pipeline.keymodel import KeyClassifier, load, load_default
from pipeline.templates import all_label_classes
from training import keydata as kd
from training import train_keys

ROW_CLASSES = [c for c in all_label_classes() if c.startswith("requests.row:")]
NEW_WORDING = "依申请公开结果：同意公开"


@pytest.fixture(scope="module")
def words():
    return kd.vocabulary_words()


@pytest.fixture(scope="module")
def small(words):
    ex = kd.generate(11, 6)
    return KeyClassifier().fit([e.text for e in ex], [e.cls for e in ex], [e.context for e in ex],
                               calib=tuple(zip(*[(e.text, e.cls, e.context) for e in kd.generate(12, 1)])),
                               words=words)


def test_fit_predict_proba_score_pickle(small):
    texts = ["三、本年度办理结果(一)予以公开", "总计", "1234", "", "行政许可"]
    P = small.predict_proba(texts, ROW_CLASSES)
    assert P.shape == (5, len(ROW_CLASSES) + 1)
    assert np.allclose(P.sum(axis=1), 1.0)
    pred = small.predict(texts, ROW_CLASSES)
    # glued parent+child → child; 总计 among the rows → the total row; numbers, blanks and a
    # label of another table → none (the last column)
    assert pred == ["requests.row:granted", "requests.row:total", "none", "none", "none"]
    assert P[0, ROW_CLASSES.index("requests.row:granted")] > 0.8
    assert small.score(texts, pred, ROW_CLASSES) == 1.0
    assert small.score(texts, ["none"] * 5, ROW_CLASSES) == pytest.approx(0.6)
    clone = pickle.loads(pickle.dumps(small))
    assert np.allclose(clone.predict_proba(texts, ROW_CLASSES), P)
    assert clone.name == "classifier" and "_words" not in pickle.loads(pickle.dumps(clone)).__dict__


def test_context_disambiguates_same_text(small):
    cls = ["requests.col:other_org", "requests.row:other_other"]
    hdr = {"table": "requests", "header": True, "row": 2, "col": 7, "prev": "法律服务机构"}
    body = {"table": "requests", "header": False, "row": 26, "col": 1, "prev": "3.其他"}
    assert small.predict(["其他", "3.其他"], cls, [hdr, body]) == cls


def test_noisy_labels(small):
    cases = {
        "其他法律行政止公开": "requests.row:denied_prohibited_by_law",   # printed typo
        "2.其他法律行政法規禁止公開": "requests.row:denied_prohibited_by_law",  # traditional
        "(三)不予公开 1.属于国家秘密": "requests.row:denied_state_secret",   # glued parent
        "属于国冢秘蜜": "requests.row:denied_state_secret",                 # OCR confusions
        "要求行政机关确认或重 新出具已获取信息": "requests.row:rejected_reconfirm",   # space inside
        "无正当理由大量反复申": "requests.row:rejected_excessive",          # truncated
        "结转下年度继续办埋": "requests.row:carried_forward",
    }
    assert small.predict(list(cases), ROW_CLASSES) == list(cases.values())
    # held-out noisy draws: the classifier beats the fuzzy baseline
    ev = [e for e in kd.generate(4242, 2) if "noisy" in e.tags][:300]
    acc_k = train_keys.evaluate(small, ev)["accuracy"]
    acc_f = train_keys.evaluate(FuzzyMapper(), ev)["accuracy"]
    assert acc_k > acc_f and acc_k > 0.9


def test_detect_template(small):
    d21 = small.detect_template(["本年制发件数", "本年废止件数", "现行有效件数", "规章", "予以公开"])
    d19 = small.detect_template(["本年新制作数量", "对外公开总数量", "政府集中采购", "规章"])
    old = small.detect_template(["收到申请数", "当面申请数", "主动公开政府信息数", "网上申请数"])
    for d in (d21, d19, old):
        assert set(d) == {"2019", "2021", "unsupported"} and sum(d.values()) == pytest.approx(1.0)
    assert d21["2021"] > 0.9 and d19["2019"] > 0.9 and old["unsupported"] > 0.9
    # requests tables differ only in how they print (六)其他处理: one row (2019) or three (2021)
    req = ["自然人", "商业企业", "其他", "总计", "（一）予以公开", "（七）总计"]
    r19 = small.detect_template(req + ["（六）其他处理"])
    r21 = small.detect_template(req + ["（六）其他处理", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
                                       "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "3.其他"])
    assert max(r19, key=r19.get) == "2019" and max(r21, key=r21.get) == "2021"


def _result_json(path, items):
    path.write_text(json.dumps({"format": "gouji.result/1", "template": "2021", "cells": {},
                                "labels": items}, ensure_ascii=False), encoding="utf-8")


def _small_eval(tmp_path):
    p = tmp_path / "eval.jsonl"
    lines = kd.EVAL_PATH.read_text(encoding="utf-8").splitlines()
    p.write_text("\n".join(lines[::8]) + "\n", encoding="utf-8")
    return p


def _args(tmp_path, out, *extra):
    empty = tmp_path / "labelled"
    empty.mkdir(exist_ok=True)
    return ["--out", str(out), "--copies", "3", "--labelled", str(empty), "--synth", str(tmp_path / "nosynth"),
            "--eval", str(_small_eval(tmp_path)), "--no-keep", *extra]


def test_retraining_learns_new_wording(tmp_path, capsys):
    out = tmp_path / "keys"
    assert train_keys.main(_args(tmp_path, out)) == 0
    old = load(out / "model.pkl")
    assert old.predict([NEW_WORDING], ROW_CLASSES) != ["requests.row:granted"]
    add = tmp_path / "corrected"
    add.mkdir()
    ctx = {"table": "requests", "header": False, "row": 5, "col": 0}
    for i, w in enumerate([NEW_WORDING, "依申请公开结果:同意公开", "（一）依申请公开结果：同意公开"]):
        _result_json(add / f"r{i}.json", [{"text": w, "class": "requests.row:granted", "context": ctx},
                                          {"text": "本年新收政府信息公开申请数量", "class": "requests.row:new_received"}])
    assert train_keys.main(_args(tmp_path, out, "--add", str(add), "--force")) == 0
    new = load(out / "model.pkl")
    assert new.predict([NEW_WORDING], ROW_CLASSES) == ["requests.row:granted"]
    assert new.predict([NEW_WORDING], ROW_CLASSES, [ctx]) == ["requests.row:granted"]
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "data hash" in card and "labelled_files" not in card and "3 files" in card
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["classifier"]["accuracy"] > metrics["baseline_fuzzy"]["accuracy"]


def test_refuses_to_replace_a_better_model(tmp_path, capsys):
    out = tmp_path / "keys"
    assert train_keys.main(_args(tmp_path, out)) == 0
    before = (out / "model.pkl").read_bytes()
    bad = tmp_path / "bad"
    bad.mkdir()
    # poisoned "corrections": common labels marked as not-a-label make a worse model
    texts = ["予以公开", "总计", "自然人", "结果维持", "规章", "行政许可", "重复申请", "尚未审结"]
    _result_json(bad / "bad.json", [{"text": t, "class": "none"} for t in texts for _ in range(3)])
    capsys.readouterr()
    assert train_keys.main(_args(tmp_path, out, "--add", str(bad))) == 1
    err = capsys.readouterr()
    assert "refusing to replace" in err.err and "worse by" in err.err
    assert (out / "model.pkl").read_bytes() == before
    assert train_keys.main(_args(tmp_path, out, "--add", str(bad), "--force")) == 0
    assert (out / "model.pkl").read_bytes() != before


def test_bad_labelled_files_are_reported(tmp_path):
    p = tmp_path / "x.json"
    _result_json(p, [{"text": "予以公开", "class": "requests.row:no_such_key"}, {"text": 3}])
    ex, problems = kd.read_labelled(p)
    assert ex == [] and len(problems) == 2 and "unknown class" in problems[0]


def test_shipped_model_loads_fast():
    m = load_default()
    if m is None:
        pytest.skip("no model shipped in models/keys")
    # small enough to load in a fraction of a second per worker (a size, not a timing: the
    # machine's load must not fail the test)
    assert isinstance(load(kd.ROOT / "models" / "keys" / "model.pkl"), type(m))
    assert (kd.ROOT / "models" / "keys" / "model.pkl").stat().st_size < 8_000_000
    assert m.predict(["三、本年度办理结果(一)予以公开"], ROW_CLASSES) == ["requests.row:granted"]
    assert load_default() is m   # cached


def test_load_default_none_without_model(tmp_path):
    assert load_default(tmp_path) is None


def test_synthetic_truth_grids_become_examples():
    ex = kd.synth_examples(kd.ROOT / "datasets" / "samples")
    if not ex:
        pytest.skip("no synthetic truth files in datasets/samples")
    by = {e.cls for e in ex}
    assert "requests.row:granted" in by and "none" in by and "appeals.col:upheld" in by
    hdr = next(e for e in ex if e.cls == "requests.col:natural_person")
    assert hdr.context["header"] is True and hdr.context["table"] == "requests"


def test_word_tokens_match_jieba(words):
    """The runtime segmenter is jieba's algorithm (HMM off) on the small dictionary."""
    import jieba
    from pipeline.keymodel import _Words
    from pipeline.normalize import normalize
    ours = _Words(tuple(words))
    tok = jieba.Tokenizer()
    tok.FREQ, tok.total, tok.initialized = dict(ours.freq), sum(ours.freq.values()), True
    texts = [normalize(e.text) for e in kd.generate(3, 2)][:1500]
    for t in texts:
        assert ours.cut(t) == [w for w in tok.lcut(t, HMM=False) if len(w) > 1], t


def test_numpy_scores_match_sparse_fit_matrix(small):
    texts = ["三、本年度办理结果(一)予以公开", "总计", "", "12", "行政規範性檔案"]
    X = small._matrix(small._tokens(texts, None))
    ref = np.asarray(X @ small.coef_.T) + small.intercept_
    assert np.allclose(small._logits(texts), ref, atol=1e-4)
