"""pdfminer.six `extract_text` as it boxes a report's tables (issue #13).

tests/fixtures/flattened_pdfminer/: the text pdfminer.six (training/synth/text_tools.py) wrote
for digital PDFs of the synthetic corpus, with the requests and appeals truth:
  - t034: test split report 34 (`python -m training.eval_flattened --build 40 --work
    datasets/generated/s22b`, narrow_columns): the active table's last boxes (its column
    headers, each followed by its values, `现行 / 有效 / 件数` then `0 0 0 0 21 19`) are
    printed after the requests title, and the requests values after the appeals title;
  - v001: val split report 1 forced through narrow_columns (`--build 16 --split val
    --geometry narrow_columns`): a wrapped active header line `本年增/` (over `减`) printed
    in the requests region, a label glued to a blank mark that is no joined row;
  - t003: test split report 3 (s22b, default geometry): the appeals header printed a
    character a line, the row `— — — — — — — — — — 0` then four 0s a line each;
  - t032: test split report 32 (s22b, narrow_columns): the requests table over two pages,
    page 2's first column boxed with the row labels, its other columns' block with two
    top cells and two bottom cells displaced and one column printed after the total's.
"""
import json
from pathlib import Path

import pytest

from pipeline import stream
from pipeline.classify import FuzzyMapper
from pipeline.export import to_result
from pipeline.run import extract
from pipeline.stream.foreign import drop_foreign
from pipeline.templates import templates
from pipeline.values import parse_value

FIX = Path(__file__).parent / "fixtures" / "flattened_pdfminer"
REVIEW = 0.995


def _case(name: str) -> tuple[dict, dict]:
    truth = json.loads((FIX / f"{name}.truth.json").read_text(encoding="utf-8"))["cells"]
    return truth, to_result(extract(FIX / f"{name}.pdfminer.txt"))


@pytest.mark.parametrize("name", ["t034", "v001", "v000", "t003", "t032"])
def test_pdfminer_every_measured_cell_right_none_confident_wrong(name):
    truth, res = _case(name)
    got = {k: res["cells"].get(k, {}).get("value", "missing") for k in truth}
    assert {k: (v, truth[k]) for k, v in got.items() if v != truth[k]} == {}
    wrong_sure = [k for k, c in res["cells"].items() if k in truth and c["value"] != truth[k]
                  and c["confidence"] >= REVIEW]
    assert wrong_sure == []


def test_active_values_after_the_requests_title_are_not_requests_values():
    """t034's requests region opens with the active table's boxes (its headers wrapped a line
    per fragment, each followed by its values): those values are left out, the requests
    row's stay, and the region's values with the appeals region's spill make exactly one
    template's requests cells."""
    text = (FIX / "t034.pdfminer.txt").read_text(encoding="utf-8")
    sim = FuzzyMapper().similarity
    items = stream.tokens(stream.region(text, "requests"))
    kept = [it.text for it in drop_foreign(items, sim) if it.kind == "V"]
    assert "21" in [it.text for it in items if it.kind == "V"] and "21" not in kept and "19" not in kept
    assert kept[:7] == ["0"] * 7        # 一、本年新收… and its seven values
    spill = stream.spilled(text, templates()["2021"], sim)
    assert spill is not None and len(spill[0]) == 25 * 7 and len(spill[1]) == 15


def test_header_word_broken_after_a_blank_mark_is_no_joined_row():
    """v001 prints the active header `本年增/减` broken after its `/`: read as a label glued to
    a blank mark, it made the whole report a joined-cells text and every requests cell was
    lost."""
    from pipeline.joined import unjoin
    text = (FIX / "v001.pdfminer.txt").read_text(encoding="utf-8")
    assert "本年增/\n" in text
    assert unjoin(text) == text


def _requests_block(name: str):
    """The requests region of fixture `name`'s pdfminer text read as one value block: its
    values, the block (stream.whole_block) and the truth's cells."""
    text = (FIX / f"{name}.pdfminer.txt").read_text(encoding="utf-8")
    truth = json.loads((FIX / f"{name}.truth.json").read_text(encoding="utf-8"))["cells"]
    sim = FuzzyMapper().similarity
    items = drop_foreign(stream.tokens(stream.region(text, "requests")), sim)
    vals = [it for it in items if it.kind == "V"]
    block = stream.whole_block(vals, templates()["2021"], stream.lone_anchors(items, templates()["2021"], sim),
                               stream.value_runs(items))
    return vals, block, truth


def test_boxes_printed_after_their_columns_are_their_columns_bottom_cells():
    """v000: read column by column, its last three values shift the total column by three and
    break its equations; read as the bottom cells of three columns printed after the
    columns, every equation holds, and that reading places every cell right."""
    vals, block, truth = _requests_block("v000")
    assert [it.text for it in vals[-3:]] == ["0项", "0", "０"] and len(vals) == 25 * 7
    assert block is not None and block.broken == 0 and block.readings == 1
    got = {k: parse_value(c.text)[1] for k, c in block.cells.items()}
    assert {k: (v, truth[k]) for k, v in got.items() if v != truth[k]} == {}


def test_appeals_stream_over_a_line_reading_without_header():
    """t003: the line-based appeals reading finds no header (its characters printed one a
    line) and takes a row reaching past the table in template order (a 1 from elsewhere);
    the stream reads exactly the region's 15 values, sure and balanced. The stream's reading
    stands; the cells the two disagree on stay doubtful, the others are sure."""
    truth, res = _case("t003")
    app = {k: c for k, c in res["cells"].items() if k.startswith("appeals/")}
    assert {k: c["value"] for k, c in app.items()} == {k: v for k, v in truth.items() if k.startswith("appeals/")}
    assert "appeals: read as a stream of labels and values (flattened text)" in res["warnings"]
    doubted = {k for k, c in app.items() if c["confidence"] < REVIEW}
    assert "appeals/litigation_after_review/other" in doubted      # the line reading's 1
    assert "appeals/review/upheld" not in doubted                  # both read it blank


def test_first_column_with_the_labels_displaced_boxes_and_a_column_out_of_place():
    """t032, page 2: 自然人's 20 values stand between the row labels (boxed with them); the
    other six columns come as a block whose first two values are the top cells of two
    columns (12, 10: two digits) and last two the bottom cells of two others (０, ０), and
    the 社会公益组织 column (with its 1项) printed after the 总计 column. Read with the
    first column before the displaced tops and that column moved back, every cell is right;
    the readings that balance alike (part columns the equations cannot tell apart) leave
    their disagreements doubtful."""
    vals, block, truth = _requests_block("t032")
    assert len(vals) == 23 * 7 and [it.text for it in vals[20:22]] == ["12", "10"]
    assert block is not None and block.template == "2019"
    got = {k: parse_value(c.text)[1] for k, c in block.cells.items()}
    assert {k: (v, truth[k]) for k, v in got.items() if v != truth[k]} == {}
    # the printed row 重复申请 (10 in one part column, total 0) breaks its two equations
    assert block.broken == 2 and block.readings > 1
    assert block.placement["requests/new_received/social_welfare_org"] < REVIEW
