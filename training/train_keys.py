"""Train the cell-key classifier: `python -m training.train_keys [--add DIR] [--force] [--out DIR]`.

With --add, the digit model is also fine-tuned on the reviewed cell crops there
(`gouji review` writes them; training/train_digits.finetune) and kept only when not worse.

Builds the training data (training/keydata.py), fits pipeline.keymodel.KeyClassifier,
evaluates it and the fuzzy baseline on the fixed held-out set
(datasets/labelled/eval/keys_eval.jsonl), and writes OUT/model.pkl, OUT/metrics.json and
OUT/MODEL_CARD.md. A model that scores worse than the one already in OUT is not written
unless --force (both scores and the difference are printed).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from pipeline.keymodel import LEGACY, NONE, KeyClassifier, load, save
from pipeline.templates import all_label_classes

from . import keydata as kd

DEFAULT_OUT = kd.ROOT / "models" / "keys"
SYNTH_DIR = kd.ROOT / "datasets" / "generated" / "train"   # the train split only: val/test stay unseen


# --- evaluation ----------------------------------------------------------------------------

def _table_of(e: kd.Example) -> str:
    if e.cls not in (NONE, LEGACY):
        return e.cls.split(".")[0]
    return (e.context or {}).get("table") or "requests"


def evaluate(mapper, examples: list[kd.Example]) -> dict:
    """Per-cell key accuracy. Each cell is classified among its table's label classes + none
    (the decoder knows the table); context goes to mappers that take it."""
    classes = list(all_label_classes())
    by_table: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        by_table.setdefault(_table_of(e), []).append(i)
    pred: list[str] = [""] * len(examples)
    conf = np.zeros(len(examples))
    for table, ii in by_table.items():
        cls = [c for c in classes if c.startswith(table + ".")]
        texts = [examples[i].text for i in ii]
        ctx = [examples[i].context for i in ii]
        try:
            P = mapper.predict_proba(texts, cls, context=ctx)
        except TypeError:  # the fuzzy baseline takes no context
            P = mapper.predict_proba(texts, cls)
        names = cls + [NONE]
        for k, i in enumerate(ii):
            j = int(P[k].argmax())
            pred[i], conf[i] = names[j], float(P[k, j])
    truth = [NONE if e.cls == LEGACY else e.cls for e in examples]
    ok = np.array([p == t for p, t in zip(pred, truth)])

    def sub(mask):
        m = np.array(mask, dtype=bool)
        return round(float(ok[m].mean()), 4) if m.any() else None
    is_label = [t != NONE for t in truth]
    out = {
        "accuracy": round(float(ok.mean()), 4),
        "labels": sub(is_label),
        "rows": sub([".row:" in t or ".group:" in t or ".section:" in t for t in truth]),
        "columns": sub([".col:" in t for t in truth]),
        "none": sub([not x for x in is_label]),
        "clean": sub(["clean" in e.tags for e in examples]),
        "noisy": sub(["noisy" in e.tags for e in examples]),
        "heldout_wordings": sub(["heldout" in e.tags for e in examples]),
        "n": len(examples),
    }
    # expected calibration error of the top probability (10 bins)
    bins = np.minimum((conf * 10).astype(int), 9)
    ece = sum(abs(ok[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean() for b in range(10) if (bins == b).any())
    out["ece"] = round(float(ece), 4)
    return out


# --- training ------------------------------------------------------------------------------

def build_training(add_dirs, labelled_dir: Path | None, synth_dir: Path | None, copies: int | None = None,
                   log=print) -> tuple[list[kd.Example], dict]:
    c = kd.cfg()
    seed = int(c.get("seed", 0))
    ex = kd.generate(seed, copies or int(c.get("copies", 24)))
    desc = {"template_wordings": len(ex)}
    dirs = ([labelled_dir] if labelled_dir and Path(labelled_dir).exists() else []) + [Path(d) for d in add_dirs]
    lab, problems, files = kd.labelled_examples(dirs, random.Random(seed + 1))
    for p in problems:
        log(f"warning: {p}")
    ex += lab
    desc["labelled_files"] = len(files)
    desc["labelled_examples"] = len(lab)
    syn = kd.synth_examples(synth_dir) if synth_dir and Path(synth_dir).exists() else []
    noise = kd.Noise(random.Random(seed + 2))
    noisy = [kd.Example(noise.garble(e.text), e.cls, e.context, e.weight, e.tags + ["noisy"])
             for e in syn if e.cls != NONE for _ in range(int(c.get("synth_noisy_copies", 2)))]
    ex += syn + noisy
    desc["synthetic_corpus_cells"] = len(syn)
    desc["synthetic_noisy_copies"] = len(noisy)
    return ex, desc


def train(examples: list[kd.Example], copies_calib: int = 3) -> KeyClassifier:
    c = kd.cfg()
    calib = kd.generate(int(c.get("calib_seed", 1)), copies_calib)
    m = KeyClassifier(foreign_weight=float(c.get("foreign_weight", 0.1)))
    m.fit([e.text for e in examples], [e.cls for e in examples], [e.context for e in examples],
          sample_weight=[e.weight for e in examples],
          calib=([e.text for e in calib], [e.cls for e in calib], [e.context for e in calib]),
          words=kd.vocabulary_words())
    return m


def _seed_metrics() -> dict | None:
    """End-to-end key accuracy on the seed reports (clean and OCR-noised), both mappers."""
    try:
        from .eval_keys import seed_report
        return seed_report()
    except Exception as e:  # the pipeline is not this module's to break
        print(f"seed evaluation skipped: {type(e).__name__}: {e}")
        return None


def _seed_rows(seeds: dict | None) -> str:
    if not seeds:
        return "Not run (no seed reports, or the pipeline failed; see `python -m training.eval_keys`).\n"
    out = ["| set | fuzzy baseline | classifier |", "|---|---|---|"]
    for part, res in seeds.items():
        f, c = res["fuzzy"], res["classifier"]
        out.append(f"| {part} ({f['n']} cells) | {f['accuracy']} | {c['accuracy']} |")
    return "\n".join(out) + "\n"


def model_card(out: Path, metrics: dict) -> str:
    m, b = metrics["classifier"], metrics["baseline_fuzzy"]
    rows = "\n".join(f"| {k} | {b.get(k)} | {m.get(k)} |" for k in
                     ("accuracy", "labels", "rows", "columns", "none", "clean", "noisy", "heldout_wordings", "ece"))
    d = metrics["data"]
    return f"""# Cell-key classifier (models/keys)

Maps a table cell's text (plus, when known, its table, row, column, header flag and the text
of the cell before it) to a label class (`requests.row:granted`, `active.col:issued`, …) or
`none`. Used by pipeline/classify.py through pipeline/keymodel.py; the fuzzy mapper is the
baseline.

- Model: linear classifier with log loss (scikit-learn {metrics['sklearn']} {metrics['params']['estimator']}) on
  {metrics['n_features']} binary features (character 1–3-grams, prefixes/suffixes, words from a
  small jieba dictionary of template words, ordinals, cell shape, context); probabilities
  temperature-scaled (T={metrics['temperature']:.3f}) on a separate noisy calibration set.
- Trained: {metrics['date']} in {metrics['train_seconds']} s on {d['n_train']} examples, data hash `{d['hash']}`.
- Size: {metrics['model_bytes'] / 1e6:.2f} MB (model.pkl); loads in {metrics['load_seconds'] * 1000:.0f} ms.

## Data
- Template labels and variants (configs/templates/*.yaml) and the real-world wordings of
  configs/keys_train.yaml, {d['copies']} renderings each: clean once, then with OCR-like noise
  (confusable glyphs, dropped/doubled characters, spaces, truncation, one line of a wrapped
  label, parent glued in front, ordinals, traditional mirror). {d['template_wordings']} examples incl.
  `none` cells (numbers, dashes, notes, parents, body text, vertical-header glyphs) and
  pre-2019 wording (`legacy`, counted as none; it drives unsupported-template detection).
- User-labelled result files: {d['labelled_files']} files, {d['labelled_examples']} examples (with noisy copies).
- Synthetic corpus truth grids (datasets/generated/train, each distinct printing once):
  {d['synthetic_corpus_cells']} cells, plus {d.get('synthetic_noisy_copies', 0)} OCR-noised copies of their labels.

## Evaluation (fixed held-out set, {m['n']} cells: datasets/labelled/eval/keys_eval.jsonl)
Per-cell key accuracy, each cell classified among its table's classes + none. `heldout_wordings`:
wordings never seen in training. `ece`: expected calibration error of the top probability.

| metric | fuzzy baseline | classifier |
|---|---|---|
{rows}

## End to end: the seed reports (tests/fixtures/seeds, `python -m training.eval_keys`)
Whole pipeline (`pipeline.run.extract`, mapper fuzzy vs classifier); an expected key counts
when the result has it with the expected value. `ocr_noise`: 3 seeded OCR-noise draws over
every label cell of each report (values intact).

{_seed_rows(metrics.get('seeds'))}
## Template detection
`KeyClassifier.detect_template` per table (active, requests) on synthetic truth grids
(datasets/samples, datasets/generated/val): {metrics.get('template_detection')}.
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="gouji train", description="Train the cell-key classifier into models/keys/.")
    p.add_argument("--add", action="append", default=[], metavar="DIR",
                   help="folder of corrected result JSON files (top-level \"labels\"); repeatable")
    p.add_argument("--force", action="store_true", help="replace the shipped model even if the new one scores worse")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model folder (default models/keys)")
    p.add_argument("--labelled", type=Path, default=kd.LABELLED_DIR, help="labelled samples already kept")
    p.add_argument("--synth", type=Path, default=SYNTH_DIR, help="synthetic corpus (used if present)")
    p.add_argument("--eval", type=Path, default=kd.EVAL_PATH, help="fixed evaluation set (.jsonl)")
    p.add_argument("--copies", type=int, default=None, help="noisy renderings per wording (default from config)")
    p.add_argument("--no-seeds", action="store_true", help="skip the end-to-end seed-report evaluation")
    p.add_argument("--no-keep", action="store_true", help="do not copy --add files into the labelled folder")
    p.add_argument("--digits-model", type=Path, default=kd.ROOT / "models" / "digits" / "digits.onnx",
                   help="digit model fine-tuned on the reviewed cell crops of --add (gouji review)")
    p.add_argument("--digits-eval-cache", type=Path, default=None, help="npz cache of the digit held-out crops")
    p.add_argument("--no-digits", action="store_true", help="do not fine-tune the digit model")
    a = p.parse_args(argv)
    for d in a.add:
        if not Path(d).exists():
            print(f"gouji train: no such folder: {d}", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    examples, desc = build_training(a.add, a.labelled, a.synth, a.copies)
    print(f"training on {len(examples)} examples ({desc})")
    model = train(examples)
    train_s = time.perf_counter() - t0
    model.meta_["data_hash"] = kd.data_hash(examples)
    ev = kd.load_eval(a.eval)
    from pipeline.classify import FuzzyMapper
    import sklearn
    res = evaluate(model, ev)
    print(f"classifier: {json.dumps(res)}")
    base = evaluate(FuzzyMapper(), ev)
    print(f"fuzzy baseline: {json.dumps(base)}")
    out = Path(a.out)
    shipped = out / "model.pkl"
    if shipped.exists():
        try:
            old = evaluate(load(shipped), ev)["accuracy"]
        except Exception as e:  # an unreadable old model does not block training
            print(f"shipped model unreadable ({e}); replacing it")
            old = None
        if old is not None:
            diff = res["accuracy"] - old
            print(f"shipped model: {old:.4f}; new model: {res['accuracy']:.4f} ({diff:+.4f})")
            if diff < 0 and not a.force:
                print(f"refusing to replace {shipped}: the new model is worse by {-diff:.4f} on the "
                      f"fixed evaluation set; use --force to replace it anyway", file=sys.stderr)
                _digits(a, f"key classifier: kept the old model ({old:.4f}; the new one scored {res['accuracy']:.4f})")
                return 1
    out.mkdir(parents=True, exist_ok=True)
    save(model, shipped)
    t = time.perf_counter()
    load(shipped)
    load_s = time.perf_counter() - t
    metrics = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "train_seconds": round(train_s, 1), "load_seconds": round(load_s, 4),
        "model_bytes": shipped.stat().st_size, "n_features": len(model.vocab_),
        "temperature": model.temperature_, "params": {"estimator": (f"SGDClassifier(loss=log_loss, alpha={model.alpha}), one-vs-rest, softmax"
                                if model.solver == "sgd" else f"LogisticRegression(C={model.C}), multinomial"),
                   "foreign_weight": model.foreign_weight},
        "sklearn": sklearn.__version__,
        "data": {**desc, "n_train": len(examples), "hash": kd.data_hash(examples),
                 "copies": a.copies or int(kd.cfg().get("copies", 24))},
        "eval_set": str(a.eval), "classifier": res, "baseline_fuzzy": base,
    }
    if out.resolve() == DEFAULT_OUT.resolve() and not a.no_seeds:
        metrics["seeds"] = _seed_metrics()
        try:
            from .eval_keys import template_detection
            metrics["template_detection"] = template_detection()
        except Exception as e:
            print(f"template detection evaluation skipped: {type(e).__name__}: {e}")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(model_card(out, metrics), encoding="utf-8")
    if a.add and not a.no_keep:
        keep = Path(a.labelled) / "added"
        keep.mkdir(parents=True, exist_ok=True)
        for f in kd.labelled_files([Path(d) for d in a.add]):
            shutil.copy2(f, keep / f.name)
        print(f"kept the added samples in {keep} (used by every later training)")
    print(f"wrote {shipped} ({metrics['model_bytes'] / 1e6:.2f} MB, trained in {train_s:.1f} s, loads in {load_s * 1000:.0f} ms)")
    _digits(a, f"key classifier: kept the new model ({res['accuracy']:.4f} on the fixed evaluation set)")
    return 0


def _digits(a, keys_line: str) -> None:
    """With --add: fine-tune the digit model on the reviewed cell crops (training.train_digits.
    finetune keeps it only when not worse on its held-out set), then say which models were kept."""
    lines = [keys_line]
    if a.add and not a.no_digits:
        from .train_digits import finetune
        d = finetune(a.add, a.digits_model, eval_cache=a.digits_eval_cache)
        print(f"digit model: {json.dumps(d)}")
        if d.get("kept"):
            lines.append(f"digit model: kept the new model ({d['heldout_after']:.4f} vs {d['heldout_before']:.4f} on "
                         f"{d['heldout_n']} held-out crops; reviewed crops {d['reviewed_before']:.4f} → {d['reviewed_after']:.4f})")
        elif "heldout_after" in d:
            lines.append(f"digit model: kept the old model ({d['reason']})")
        else:
            lines.append(f"digit model: not retrained ({d['reason']})")
    for line in lines:
        print(line)


if __name__ == "__main__":
    sys.exit(main())
