"""poppler's pdftotext in its default mode (what most users run), issue #13.

tests/fixtures/flattened_default/: the text `pdftotext` (no options; training/synth/text_tools.py)
wrote for two digital PDFs of the synthetic val split (`python -m training.eval_flattened --split
val --build 30 --work datasets/generated/s23b`), with their truth values:
- v020: the default mode prints a one-line label with its values (一、本年新收…, 二、上年结转…,
  1.属于国家秘密, 2.其他法律行政法规禁止公开 …) but the labels of wrapped and merged cells as a
  block after all the values ((一) 予以公开, 3.危及… ). The labels form two sequences, each in
  template order; the monotone label alignment keeps one and lost (一) 予以公开's row, so its
  values had no row and the cells of two rows came back missing.
- v019: the appeals row printed one value a line, each value its own text block, in pdftotext's
  block order: `0 2 0 2 4` for 维持 2, 纠正 0, 其他 2, 尚未审结 0, 总计 4 (the 尚未审结 value
  sits under a tall vertical header and moved). The group's sum holds in any order, so the
  document came back `ok` with four wrong cells at 0.9999.
- t029.appeals: the appeals region of test_00029 of `datasets/generated/s22b` (see the test).
- t038 / t026 / t005.appeals: the appeals regions of test_00038, 00026 and 00005 of
  `datasets/generated/s22b`: rows with empty cells printed as nothing, the values among the
  header's words (see the tests).
- v012.appeals.pdfminer: the appeals region pdfminer.six wrote for val_00012 of
  `datasets/generated/s23b` (the whole header first, then the values).
- v013 (`pdftotext -raw`): every row on its label's line, two cells misprinted by the report
  (a leaf and a total), five equations broken. More than one misprint may break, so every
  cell was doubted (0.5), though each row sits under its own label and the two cells explain
  every broken equation.
"""
import json
from pathlib import Path

from pipeline.classify import FuzzyMapper
from pipeline.export import to_result
from pipeline.run import extract
from pipeline.stream.rows import inline_anchors, value_rows
from pipeline.stream.tokens import region, tokens
from pipeline.templates import templates

FIX = Path(__file__).parent / "fixtures" / "flattened_default"
REVIEW = 0.995


def _case(name: str, tool: str = "pdftotext") -> tuple[dict, dict]:
    truth = json.loads((FIX / f"{name}.truth.json").read_text(encoding="utf-8"))["cells"]
    return truth, to_result(extract(FIX / f"{name}.{tool}.txt"))


def test_labels_in_two_sequences_every_requests_cell_placed():
    """v020: every requests cell placed; the rows whose label the values follow are right and
    sure; the non-zero row whose label is in the trailing block is right; no confident wrong cell."""
    truth, res = _case("v020")
    req = {k: v for k, v in truth.items() if k.startswith("requests/")}
    assert all(k in res["cells"] for k in req), [k for k in req if k not in res["cells"]][:5]
    for row in ("new_received", "carried_over", "denied_state_secret", "denied_prohibited_by_law", "total"):
        cells = {k: res["cells"][k] for k in req if k.startswith(f"requests/{row}/")}
        assert {k: c["value"] for k, c in cells.items()} == {k: req[k] for k in cells}, row
        assert all(c["confidence"] >= REVIEW for c in cells.values()), row
    granted = {k: v for k, v in req.items() if k.startswith("requests/granted/")}
    assert {k: res["cells"][k]["value"] for k in granted} == granted
    wrong = [k for k, v in truth.items() if k in res["cells"] and res["cells"][k]["value"] != v]
    assert not [k for k in wrong if res["cells"][k]["confidence"] >= REVIEW]
    assert res["status"] == "needs_review"


def test_inline_anchors_are_the_labels_right_before_values():
    """The value rows that follow their own label are anchored to it, the others not."""
    tpl = templates()["2021"]
    rows = list(tpl.request_rows)
    sim = FuzzyMapper().similarity
    items = tokens(region((FIX / "v020.pdftotext.txt").read_text(encoding="utf-8"), "requests"))
    vrows = value_rows(items, len(tpl.request_columns))
    got = inline_anchors(items, vrows, rows, lambda t, j: sim(t, f"requests.row:{rows[j].key}"))
    assert [rows[j].key for _, j in sorted(got.items())] == [
        "new_received", "carried_over", "denied_state_secret", "denied_prohibited_by_law"]
    assert 2 not in got     # (一) 予以公开's values: its label is in the block after them


def test_one_value_a_line_appeals_order_is_doubtful():
    """v019: parts of an appeals group printed one a line with different values are not
    sure whatever the sum says; the document is not `ok`; the all-zero groups stay sure."""
    truth, res = _case("v019")
    wrong = [k for k, v in truth.items() if k in res["cells"] and res["cells"][k]["value"] != v]
    assert wrong and not [k for k in wrong if res["cells"][k]["confidence"] >= REVIEW]
    assert res["status"] != "ok"
    assert all(res["cells"][f"appeals/review/{c}"]["confidence"] >= REVIEW
               for c in ("upheld", "corrected", "other", "pending", "total"))
    assert res["cells"]["appeals/litigation_direct/total"]["value"] == 4


def test_values_one_a_line_without_empty_lines_keep_their_order(tmp_path):
    """The same text with the empty lines between the values taken out (one cell a line, as a
    browser's innerText prints a div grid in document order): the order is the document's,
    so no cell is doubted for it."""
    from pipeline.classify.decoded import Decoded, appeal_parts, doubt_block_order
    from pipeline.model import Cell
    from pipeline.stream.tokens import region as table_region
    text = (FIX / "v019.pdftotext.txt").read_text(encoding="utf-8")
    part = table_region(text, "appeals")
    parts = appeal_parts(templates()["2021"])
    d = Decoded(kind="appeals", cells={k: Cell(row=i, col=0, text=str(i % 3))
                                       for i, k in enumerate(k for g in parts for k in g)})
    assert doubt_block_order(d, parts, part) and all(p < REVIEW for p in d.placement.values())
    d2 = Decoded(kind="appeals", cells=dict(d.cells))
    assert doubt_block_order(d2, parts, "\n".join(ln for ln in part.splitlines() if ln.strip())) == set()
    assert not d2.placement


def test_misprints_on_rows_placed_by_their_labels_doubt_only_their_equations():
    """v013: the cells of the broken equations are doubted (the document goes to review), the
    others, placed by their own labels, stay sure; every requests cell is right."""
    from pipeline.stream.equations import misprinted
    truth, res = _case("v013", "pdftotext-raw")
    req = {k: v for k, v in truth.items() if k.startswith("requests/")}
    assert {k: res["cells"][k]["value"] for k in req} == req
    sure = [k for k in req if res["cells"][k]["confidence"] >= REVIEW]
    assert len(sure) > len(req) // 2 and len(sure) < len(req)
    assert res["status"] == "needs_review"
    # a misaligned reading is no misprint: one row's values dealt to the next row
    tpl = templates()["2021"]
    shifted = dict(req)
    shifted.update({f"requests/granted/{c.key}": req[f"requests/new_received/{c.key}"] for c in tpl.request_columns})
    assert misprinted(req, tpl) and not misprinted(shifted, tpl)


def test_appeals_values_in_order_under_whole_headers_keep_full_confidence():
    """v010 (val_00010, pdftotext default): the appeals values stand as separate text blocks
    too, but every column header is printed whole for every group, so the tool kept the
    columns' order: the appeals cells (non-zero parts in litigation_direct) are right and
    sure, and the document is `ok`. v019's header, broken into characters, stays doubted."""
    from pipeline.classify.decoded import header_broken
    from pipeline.stream.tokens import region as table_region
    truth, res = _case("v010")
    app = {k: v for k, v in truth.items() if k.startswith("appeals/")}
    assert any(app[f"appeals/litigation_direct/{c}"] for c in ("upheld", "other", "pending"))
    assert {k: res["cells"][k]["value"] for k in app} == app
    assert all(res["cells"][k]["confidence"] >= REVIEW for k in app)
    assert res["status"] == "ok"
    v010 = table_region((FIX / "v010.pdftotext.txt").read_text(encoding="utf-8"), "appeals")
    v019 = table_region((FIX / "v019.pdftotext.txt").read_text(encoding="utf-8"), "appeals")
    assert not header_broken(v010, 3) and header_broken(v019, 3)


def test_vertical_header_printed_down_its_columns_keeps_the_order():
    """t029 (test_00029 of s22b, pdftotext default): the appeals header is vertical and
    printed a character a line, column by column (`结 / 果 / 维 / 持`; the last two columns
    side by side, `其 尚 / 他 未`), so `其他` is whole fewer times than there are groups, but
    the tool read down the columns, not across them: the order of the values stands.
    v019's header read across the columns (`果 纠 他 未 总 结 结 他`) stays doubted."""
    from pipeline.classify.decoded import header_broken
    from pipeline.stream.tokens import region as table_region
    t029 = table_region((FIX / "t029.appeals.pdftotext.txt").read_text(encoding="utf-8"), "appeals")
    v019 = table_region((FIX / "v019.pdftotext.txt").read_text(encoding="utf-8"), "appeals")
    assert t029.replace(" ", "").count("其他") < 3
    assert not header_broken(t029, 3) and header_broken(v019, 3)


def _appeals(name: str) -> dict:
    from pipeline.stream import decode_appeals
    t = decode_appeals((FIX / f"{name}.appeals.pdftotext.txt").read_text(encoding="utf-8"), templates()["2021"])
    return {k.split("/", 1)[1]: (None if c is None else int(c.text), t.placement.get(k, 1.0))
            for k, c in t.cells.items()}


def test_appeals_values_among_header_words_go_to_the_group_of_their_header():
    """t038: groups 1 and 2 printed empty, group 3 `1 1 1 2 5`, each value printed right after
    its column's third header cell (`复议后起诉 / 总计 / 结果 / 维持 / 1 / 结果 其他 / 纠正 结果 / 1 /
    1 / 尚未 / 审结 / 总计 / 2 / 5`). A group's values balance in any group, so the equations
    alone put them in the first; the header printed last before each value says the third.
    The first value's run follows 11 header cells: which of them the empty ones were is the
    header's guess, so those are doubtful; the runs of as many values as cells are sure."""
    got = _appeals("t038")
    assert {k: v for k, (v, _) in got.items()} == {
        **{f"{g}/{c}": None for g in ("review", "litigation_direct")
           for c in ("upheld", "corrected", "other", "pending", "total")},
        "litigation_after_review/upheld": 1, "litigation_after_review/corrected": 1,
        "litigation_after_review/other": 1, "litigation_after_review/pending": 2,
        "litigation_after_review/total": 5}
    assert got["review/upheld"][1] < REVIEW and got["litigation_after_review/upheld"][1] < REVIEW
    assert all(got[f"litigation_after_review/{c}"][1] == 1.0 for c in ("corrected", "other", "pending", "total"))


def test_appeals_header_count_fewer_values_than_cells_is_doubtful():
    """t026: 11 zeros in four runs (1, 3, 5 values after as many header cells; the last two
    after six): the last run's two are the last two cells printed before them (尚未审结,
    总计 of the third group), every cell of that run doubtful; the others sure."""
    got = _appeals("t026")
    blank = {"litigation_direct/total", "litigation_after_review/upheld", "litigation_after_review/corrected",
             "litigation_after_review/other"}
    assert {k for k, (v, _) in got.items() if v is None} == blank
    assert all(v == 0 for k, (v, _) in got.items() if k not in blank)
    assert {k for k, (_, p) in got.items() if p < REVIEW} == blank | {
        "litigation_after_review/pending", "litigation_after_review/total"}


def test_appeals_one_run_after_the_whole_header_is_not_placed_by_it():
    """t005: nine zeros after the whole header: the header says nothing of where they stand
    (the first group holds three of them), so the rule stays out and every cell is doubtful."""
    from pipeline.stream.appeals import by_header_count
    tpl = templates()["2021"]
    items = tokens(region((FIX / "t005.appeals.pdftotext.txt").read_text(encoding="utf-8"), "appeals"))
    assert by_header_count(items, [it for it in items if it.kind == "V"], tpl) is None
    assert all(p < REVIEW for _, p in _appeals("t005").values())


def test_appeals_header_count_needs_a_run_as_long_as_its_cells():
    """v012 (pdfminer): the three groups' headers printed first, then eight values, then
    `总计 尚未审结` and one value: two runs, but neither holds as many values as header cells
    were printed before it, so nothing says the values follow their own headers (they do not:
    the first group holds four of the eight). The rule stays out."""
    from pipeline.stream.appeals import by_header_count
    tpl = templates()["2021"]
    items = tokens(region((FIX / "v012.appeals.pdfminer.txt").read_text(encoding="utf-8"), "appeals"))
    vals = [it for it in items if it.kind == "V"]
    assert len(vals) == 9
    assert by_header_count(items, vals, tpl) is None
