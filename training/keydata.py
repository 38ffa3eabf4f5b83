"""Training, calibration and evaluation examples for the cell-key classifier.

Every example is (text, class, context). Sources: the templates' labels and variants,
the real-world wordings of configs/keys_train.yaml, each drawn with OCR-like noise
(confusable glyphs, dropped/doubled characters, spaces, truncation, one line of a wrapped
label, parent label glued in front, ordinals, traditional mirror); "none" cells (numbers,
dashes, notes, parents, body text, single glyphs of vertical headers); pre-2019 wording
(class "legacy"); the synthetic corpus' truth grids when present; user-labelled result
JSON files (top-level "labels", see docs/retraining.md).
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.templates import config, label_classes, templates

ROOT = Path(__file__).resolve().parent.parent
EVAL_PATH = ROOT / "datasets" / "labelled" / "eval" / "keys_eval.jsonl"
LABELLED_DIR = ROOT / "datasets" / "labelled"
NONE, LEGACY = "none", "legacy"


@dataclass
class Example:
    text: str
    cls: str
    context: dict | None = None
    weight: float = 1.0
    tags: list = field(default_factory=list)

    def as_json(self) -> dict:
        return {"text": self.text, "class": self.cls, "context": self.context, "tags": self.tags}


def cfg() -> dict:
    return config("keys_train.yaml")


def known_classes() -> set[str]:
    out = {NONE, LEGACY}
    for t in templates().values():
        out |= set(label_classes(t))
    return out


# --- base wordings with their place in the template ------------------------------------

@dataclass
class Base:
    text: str
    cls: str
    table: str
    header: bool
    row: int
    col: int
    prev: tuple[str, ...]        # plausible texts of the cell before
    parent: str | None = None
    number: str | None = None
    heldout: bool = False


def bases(heldout: bool = False) -> list[Base]:
    """Clean base wordings; heldout=True gives only the evaluation-only wordings."""
    c = cfg()
    extra = c.get("heldout_wordings" if heldout else "wordings") or {}
    out: list[Base] = []
    for t in templates().values():
        def add(cls, label, table, header, row, col, prev):
            texts = [] if heldout else list(label.texts)
            texts += list(extra.get(cls, []))
            for tx in dict.fromkeys(texts):
                out.append(Base(tx, cls, table, header, row, col, tuple(prev), label.parent, label.number, heldout))
        r0 = 0
        for s in t.sections:
            if not heldout:
                out.append(Base(s.label, f"active.section:{s.key}", "active", True, r0, 0, ("", "0")))
            for j, col in enumerate(s.columns):
                prev = ["信息内容"] + ([s.columns[j - 1].label] if j else [])
                add(f"active.col:{col.key}", col, "active", True, r0 + 1, j + 1, prev)
            for i, row in enumerate(s.rows):
                add(f"active.row:{s.key}.{row.key}", row, "active", False, r0 + 2 + i, 0, ["", "0", "信息内容"])
            r0 += 2 + len(s.rows)
        for j, col in enumerate(t.request_columns):
            prev = [t.request_columns[j - 1].label] if j else ["", "申请人情况"]
            add(f"requests.col:{col.key}", col, "requests", True, 1 + (col.parent is not None), 2 + j, prev + ["法人或其他组织"] * (col.parent is not None))
        for i, row in enumerate(t.request_rows):
            prev = ["", "0"] + ([row.parent] if row.parent else [])
            add(f"requests.row:{row.key}", row, "requests", False, 3 + i, 0 if not row.parent else 1 + (row.number or "").isdigit(), prev)
        for g, grp in enumerate(t.appeal_groups):
            add(f"appeals.group:{grp.key}", grp, "appeals", True, 0 + (grp.parent is not None), 5 * g, ["", "总计", "行政诉讼"])
        for g in range(len(t.appeal_groups)):
            for j, col in enumerate(t.appeal_columns):
                prev = [t.appeal_columns[j - 1].label] if j else ["", "总计", "行政复议"]
                add(f"appeals.col:{col.key}", col, "appeals", True, 1 + (g > 0), 5 * g + j, prev)
    return out


# --- noise ---------------------------------------------------------------------------

class Noise:
    def __init__(self, rng: random.Random, scale: float = 1.0):
        c = cfg()
        self.rng, self.p = rng, {k: v * scale for k, v in (c.get("noise") or {}).items()}
        self.conf: dict[str, list[str]] = {}
        for grp in c.get("confusions") or []:
            grp = str(grp)
            for ch in grp:
                others = [o for o in grp if o != ch]
                if others:
                    self.conf.setdefault(ch, []).extend(others)
        try:   # what the project's OCR did to labels on our scans (training/ocr_confusions.py)
            oc = config("ocr_confusions.yaml")
        except OSError:
            oc = {}
        measured = oc.get("substitutions") or []
        self.inserted = [str(ch) for ch, n in (oc.get("inserted") or []) for _ in range(max(1, min(int(n), 5)))]
        for a_, b_, n in measured:
            if len(str(a_)) == 1 and len(str(b_)) == 1:
                self.conf.setdefault(str(a_), []).extend([str(b_)] * max(1, min(int(n), 5)))
        norm = config("normalize.yaml")
        tr = "".join(str(norm.get("traditional", "")).split())
        self.to_trad = {tr[i + 1]: tr[i] for i in range(0, len(tr) - 1, 2)}
        self.parent_print = c.get("parent_print") or {}

    def chance(self, name: str) -> bool:
        return self.rng.random() < self.p.get(name, 0.0)

    def ordinal(self, number: str) -> str:
        r = self.rng
        if number.isdigit():
            return number + r.choice([".", "、", "．", ". ", ""])
        if number.startswith("（"):
            inner = number.strip("（）")
            return r.choice([f"（{inner}）", f"({inner})", f"({inner}) ", f"（{inner}）"])
        return number + r.choice(["、", "、", ".", "．"])

    def label(self, b: Base, clean: bool = False) -> str:
        """One printed/OCR'd rendering of a base wording (still recognisable: at least half
        of its characters survive)."""
        if clean:
            return b.text
        from pipeline.normalize import normalize
        need = min(len(normalize(b.text)), max(2, (len(normalize(b.text)) + 1) // 2))
        for _ in range(8):
            s = self._render(b)
            if len(normalize(s)) >= need:
                return s
        return b.text

    def _render(self, b: Base) -> str:
        r = self.rng
        s = self.clip(b.text)
        if b.number and self.chance("ordinal"):
            s = self.ordinal(b.number) + s
        if b.parent and self.chance("glue_parent"):
            pp = self.parent_print.get(b.parent, [b.parent])
            s = r.choice(pp) + r.choice(["", " ", "", "\n"]) + s
        if self.chance("traditional"):
            s = "".join(self.to_trad.get(ch, ch) for ch in s)
        if self.chance("fullwidth"):
            s = s.translate(str.maketrans("（）：，", "():,")) if r.random() < 0.5 else s.translate(str.maketrans("():,", "（）：，"))
        return self.chars(s)

    def clip(self, s: str) -> str:
        """Truncation (narrow cell) or one line of a label wrapped over two lines."""
        r, core = self.rng, len(s)
        if core >= 5 and self.chance("truncate"):
            k = r.randint(1, max(1, min(4, core // 3)))
            s = s[:-k] if r.random() < 0.7 else s[k:]
        if core >= 6 and self.chance("fragment"):
            cut = r.randint(max(2, core // 3), core - 2)
            s = s[:cut] if r.random() < 0.5 else s[cut:]
        return s

    def chars(self, s: str, keep_min: int = 2) -> str:
        """Per-glyph OCR noise: confusions, drops, doubles, spaces."""
        r = self.rng
        out = []
        for ch in s:
            if ch.strip() and len(s) > keep_min and self.chance("drop"):
                continue
            if ch in self.conf and self.chance("substitute"):
                ch = r.choice(self.conf[ch])
            out.append(ch)
            if self.chance("double"):
                out.append(ch)
            if self.inserted and self.chance("insert"):
                out.append(r.choice(self.inserted))
            if self.chance("space"):
                out.append(" ")
        return "".join(out).strip() or s

    def garble(self, s: str, keep_min: int = 2) -> str:
        return self.chars(self.clip(s), keep_min)


def _context(b: Base, rng: random.Random, text: str = "", drop: float = 0.35) -> dict | None:
    """Where the cell sits. "prev" is the cell before it, or (as the table decoder passes
    for a row) the row's whole label with parent cells joined, which ends with the text."""
    if rng.random() < drop:
        return None
    prev = rng.choice(b.prev)
    if not b.header and rng.random() < 0.35:
        prev = (rng.choice([b.parent, ""]) or "") + " " + text if b.parent else text
    ctx = {"table": b.table, "header": b.header, "row": max(0, b.row + rng.randint(-1, 3)),
           "col": max(0, b.col + rng.choice([0, 0, 0, 1, -1])), "prev": prev}
    for k in list(ctx):
        if rng.random() < 0.15:
            del ctx[k]
    return ctx or None


def _number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.35:
        return str(rng.choice([0, 0, 0, 1, 2, 3, 5]))
    if r < 0.6:
        return str(rng.randint(0, 99999))
    if r < 0.7:
        return f"{rng.randint(0, 999)}.{rng.randint(0, 9999)}" + rng.choice(["", "万元", "万"])
    if r < 0.8:
        return rng.choice(["+", "-", ""]) + str(rng.randint(1, 2000))
    if r < 0.9:
        return rng.choice(["/", "—", "-", "", "——", "无", " "])
    return f"{rng.randint(0, 99999)}" + rng.choice(["(件)", "件", "元", "个", "项"])


def none_examples(rng: random.Random, n: int, noise: Noise) -> list[Example]:
    c = cfg()
    tables = ["active", "requests", "appeals"]
    texts_none = [str(t) for t in c.get("none_texts") or []]
    parents = [str(t) for t in c.get("parents") or []]
    glyphs = sorted({ch for b in bases() for ch in b.text if "\u4e00" <= ch <= "\u9fff"})
    out = []
    for _ in range(n):
        r = rng.random()
        ctx = {"table": rng.choice(tables), "header": False, "row": rng.randint(0, 30), "col": rng.randint(1, 15),
               "prev": _number(rng)}
        if r < 0.45:
            t = _number(rng)
        elif r < 0.62:
            t = noise.garble(rng.choice(parents))
            ctx.update(header=rng.random() < 0.5, col=rng.randint(0, 3), prev=rng.choice(["", "0"] + parents))
        elif r < 0.8:
            t = rng.choice(texts_none)
            if len(t) > 6 and rng.random() < 0.5:
                i = rng.randint(0, len(t) - 4)
                t = t[i:i + rng.randint(4, 20)]
            ctx.update(col=rng.randint(0, 3))
        else:  # a glyph or two of a vertical header read column-wise
            t = "".join(rng.choice(glyphs) for _ in range(rng.choice([1, 1, 1, 2])))
            t = t if rng.random() < 0.7 else " ".join(t)
            ctx.update(header=True, row=rng.randint(0, 3))
        if rng.random() < 0.35:
            ctx = None
        out.append(Example(t, NONE, ctx, tags=["none"]))
    return out


def legacy_examples(rng: random.Random, copies: int, noise: Noise) -> list[Example]:
    c = cfg()
    texts = [str(t) for t in (c.get("legacy_texts") or [])] + [str(t) for t in config("detect.yaml").get("pre2019_markers", [])]
    out = []
    for t in dict.fromkeys(texts):
        for k in range(copies):
            s = t if k == 0 else noise.garble(t)
            ctx = None if rng.random() < 0.5 else {"header": False, "col": rng.randint(0, 2), "row": rng.randint(0, 30)}
            out.append(Example(s, LEGACY, ctx, tags=["legacy"]))
    return out


def generate(seed: int, copies: int, heldout: bool = False, scale: float = 1.0) -> list[Example]:
    """Noisy examples of every base wording (+ none and legacy cells), deterministic in seed."""
    rng = random.Random(seed)
    noise = Noise(rng, scale)
    out: list[Example] = []
    groups: dict[tuple[str, str], list[Base]] = {}
    for b in bases() + (bases(heldout=True) if heldout else []):
        groups.setdefault((b.text, b.cls), []).append(b)   # one wording, its places in both templates
    for (_, _), places in groups.items():
        for k in range(copies):
            clean = k == 0
            b = places[k % len(places)]
            text = noise.label(b, clean=clean)
            tags = (["heldout"] if b.heldout else []) + (["clean"] if clean else ["noisy"])
            out.append(Example(text, b.cls, _context(b, rng, text), tags=tags))
    n_label = len(out)
    out += none_examples(rng, max(200, n_label // 3), noise)
    out += legacy_examples(rng, max(2, copies // 3), noise)
    return out


# --- the fixed evaluation set ------------------------------------------------------------

def build_eval() -> list[Example]:
    c = cfg()
    return generate(int(c.get("eval_seed", 1)), int(c.get("eval_copies", 4)), heldout=True)


def write_eval(path: Path = EVAL_PATH) -> Path:
    ex = build_eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for e in ex:
            f.write(json.dumps(e.as_json(), ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: Path) -> list[Example]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out.append(Example(d["text"], d["class"], d.get("context"), tags=d.get("tags", [])))
    return out


def load_eval(path: Path = EVAL_PATH) -> list[Example]:
    """The committed evaluation set (written once; regenerated only if missing)."""
    if not Path(path).exists():
        write_eval(path)
    return read_jsonl(path)


# --- user-labelled samples ---------------------------------------------------------------

def labelled_files(dirs) -> list[Path]:
    files = []
    for d in dirs:
        d = Path(d)
        if d.is_file():
            files.append(d)
            continue
        for p in sorted(d.rglob("*.json")):
            if "eval" in p.relative_to(d).parts[:-1]:
                continue
            files.append(p)
    return files


def read_labelled(path: Path) -> tuple[list[Example], list[str]]:
    """Examples from one corrected result JSON: its top-level "labels" list."""
    problems = []
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [], [f"{path}: not readable JSON ({e})"]
    labels = d.get("labels") if isinstance(d, dict) else None
    if not isinstance(labels, list):
        return [], [f"{path}: no top-level \"labels\" list (see docs/retraining.md)"]
    known = known_classes()
    out = []
    for i, it in enumerate(labels):
        if not isinstance(it, dict) or not isinstance(it.get("text"), str) or not isinstance(it.get("class"), str):
            problems.append(f"{path}: labels[{i}] needs a string text and class")
            continue
        cls = it["class"]
        if cls not in known:
            problems.append(f"{path}: labels[{i}] has unknown class {cls!r}")
            continue
        ctx = it.get("context") if isinstance(it.get("context"), dict) else None
        out.append(Example(it["text"], cls, ctx, tags=["labelled", Path(path).name]))
    return out, problems


def labelled_examples(dirs, rng: random.Random) -> tuple[list[Example], list[str], list[Path]]:
    """User-labelled samples, each with noisy copies, weighted up (they are real data)."""
    c = cfg()
    w, copies = float(c.get("labelled_weight", 4.0)), int(c.get("labelled_copies", 12))
    noise = Noise(rng, 0.5)
    out, problems, files = [], [], labelled_files(dirs)
    for p in files:
        ex, pr = read_labelled(p)
        problems += pr
        for e in ex:
            out.append(Example(e.text, e.cls, e.context, w, e.tags))
            for _ in range(copies):
                out.append(Example(noise.garble(e.text), e.cls, e.context if rng.random() < 0.7 else None, w, e.tags + ["noisy"]))
    return out, problems, files


# --- the synthetic corpus (training/synth), used when generated --------------------------

def _grids(d) -> list[tuple[str | None, list[dict]]]:
    """(table, cell records) of a truth file: {"grid": {table: [records]}} as training/synth
    writes it, or any dict with a "cells" list of records (other generators)."""
    g = d.get("grid") if isinstance(d, dict) else None
    if isinstance(g, dict) and all(isinstance(v, list) for v in g.values()):
        return [(t, recs) for t, recs in g.items()]
    out = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("cells"), list):
                out.append((node.get("kind") or node.get("table"), node["cells"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(g if g is not None else d)
    return out


def synth_examples(root: Path, limit: int = 20000, none_share: float = 0.3, seed: int = 0) -> list[Example]:
    """Cells of the synthetic corpus' truth grids (datasets/generated/**/*.truth.json): label
    cells with their class, a share of the other cells (values, notes, parent headers) as
    none. Context as the decoder sees it: table, row, col, header, the text before."""
    known = known_classes()
    rng = random.Random(seed)
    out: list[Example] = []
    seen: set = set()
    for p in sorted(Path(root).rglob("*.truth.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for table, recs in _grids(d):
            cells = [c for c in recs if isinstance(c, dict) and isinstance(c.get("text"), str)]
            cells.sort(key=lambda c: (c.get("row", 0), c.get("col", 0)))
            prev = ""
            for c in cells:
                cls = c.get("class") or c.get("cls")
                if cls is None and rng.random() < none_share:
                    cls = NONE
                sig = (c["text"], cls, table, c.get("role"), prev[:4])
                if cls in known and sig not in seen:   # each distinct printing once: no skewed priors
                    seen.add(sig)
                    ctx = {"row": c.get("row"), "col": c.get("col"), "header": c.get("role") == "header", "prev": prev}
                    if table in ("active", "requests", "appeals"):
                        ctx["table"] = table
                    out.append(Example(c["text"], cls, ctx, tags=["synth"]))
                prev = c["text"]
        if len(out) >= limit:
            break
    return out[:limit]


def data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([e.text, e.cls, e.context, e.weight], ensure_ascii=False, sort_keys=True).encode())
    return h.hexdigest()[:16]


def vocabulary_words() -> list[str]:
    """Words for the runtime tokenizer: jieba's full dictionary cut of every clean wording
    (run at training time only)."""
    import logging
    import jieba
    jieba.setLogLevel(logging.ERROR)
    from pipeline.normalize import normalize
    words = set()
    c = cfg()
    texts = [b.text for b in bases()] + [str(t) for t in c.get("parents") or []] + [str(t) for t in c.get("legacy_texts") or []]
    for t in texts:
        words |= {w for w in jieba.lcut(normalize(t), HMM=False) if len(w) > 1}
    return sorted(words)
