"""The active table (主动公开) from text pdfminer.six wrote (issue #13).

tests/fixtures/flattened_active/: the active table's region of the text real tools wrote for
test reports 1, 2 and 3 of `datasets/generated/s22b` and val report 1 of s23b (v001; 2019
template: five sections of 1-2 rows × 2-3 columns), with its truth. pdfminer makes every cell its own text box and groups a
section's column first (its rows are closer than its columns): the values come column by
column, section by section, with the column headers' boxes between them:
  - t002 (pdfminer): `本年新制作数量 / … / 0 0 0 0 0 0 / 上一年项目数量 / 本年增/减 / 处理决定数量 /
    32 0 -4 0 65 0 / …`: each run of values is the columns its headers name;
  - t003 (pdfminer): `… / 上一年项目数量 / 增/减 / 处理决定数量 / 17 0 / 上年项目数量 / 26 32 0 0 / …`:
    boxes of two sections' columns grouped together; column by column is wrong here, and the
    headers say so (a run of one column under three headers);
  - t002 (pdftotext default): the same table row by row, one value a line, each row after its
    label.
"""
import json
from pathlib import Path

from pipeline.classify import FuzzyMapper
from pipeline.stream import decode_active, region, tokens
from pipeline.stream.active import active_by_columns
from pipeline.templates import templates
from pipeline.values import parse_value

FIX = Path(__file__).parent / "fixtures" / "flattened_active"


def _read(name: str, tool: str):
    truth = json.loads((FIX / f"{name}.truth.json").read_text(encoding="utf-8"))
    text = (FIX / f"{name}.{tool}.txt").read_text(encoding="utf-8")
    tpl = templates()[truth["template"]]
    return truth["cells"], text, tpl, decode_active(text, tpl, FuzzyMapper().similarity)


def _value(cell):
    return None if cell is None else parse_value(cell.text)[1]


def test_pdfminer_columns_named_by_their_headers_read_sure():
    """t002: every active cell right, and sure (each run under headers naming its columns)."""
    truth, _, _, st = _read("t002", "pdfminer")
    assert set(st.cells) == set(truth)
    assert {k: _value(c) for k, c in st.cells.items()} == {k: t["value"] for k, t in truth.items()}
    assert not st.placement and not st.missing


def test_pdfminer_columns_across_sections_stay_doubtful():
    """t003: one value per cell, but a run does not hold the columns its headers name: the
    column-by-column reading (wrong in 7 cells) is doubtful everywhere; no wrong cell is sure."""
    truth, text, tpl, st = _read("t003", "pdfminer")
    cm = active_by_columns(tokens(region(text, "active")), tpl)
    assert cm is not None and set(cm.placement) == set(cm.cells) == set(truth)
    assert max(cm.placement.values()) < 0.995
    wrong = [k for k, c in st.cells.items() if _value(c) != truth[k]["value"]]
    assert wrong and all(st.placement.get(k, 1.0) < 0.995 for k in wrong)


def test_rows_one_value_a_line_are_not_read_by_columns():
    """t002 as pdftotext's default mode prints it (row by row, a label before each row):
    the column reading is never sure there, and the rows' reading stays."""
    truth, text, tpl, st = _read("t002", "pdftotext")
    cm = active_by_columns(tokens(region(text, "active")), tpl)
    assert cm is not None and set(cm.placement) == set(cm.cells)
    assert {k: _value(c) for k, c in st.cells.items()} == {k: t["value"] for k, t in truth.items()}


def _sure_wrong(name: str) -> list[str]:
    truth, _, _, st = _read(name, "pdfminer")
    return [k for k, c in st.cells.items() if st.placement.get(k, 1.0) >= 1.0 and _value(c) != truth[k]["value"]]


def test_pdfminer_runs_as_long_as_a_row_are_not_sure_rows():
    """t001 (test report 1, pdfminer): `行政许可 / 0 / 6 / 28` looks like the row's three values
    but is three sections' first column (left-aligned values, one box a cell). The row
    reading was sure of those 3 cells only (of 22): the column reading, doubtful, is kept
    (stream.active_columns_over_sure_below), and no wrong cell is sure."""
    truth, text, tpl, st = _read("t001", "pdfminer")
    assert not _sure_wrong("t001")
    cm = active_by_columns(tokens(region(text, "active")), tpl)
    assert {k: _value(c) for k, c in st.cells.items()} == {k: _value(c) for k, c in cm.cells.items()}


def test_pdfminer_section_printed_past_the_requests_title_is_doubtful():
    """v001 (val report 1, pdfminer): the active table's last boxes (`采购总金额 / 28.0673`) come
    after the requests title; `政府集中采购 / 0 / 6` before it looks like the procurement row
    but is two sections' first column. The section lacks a header in the region, so its
    cells are doubtful (stream.active_spill_doubt)."""
    truth, _, _, st = _read("v001", "pdfminer")
    assert "active/art20_9.central_procurement/procurement_amount" in st.cells
    assert not _sure_wrong("v001")


def test_active_stream_guess_kept_over_doubtful_lines():
    """classify.stage: the active table read both ways, the stream doubtful everywhere: its
    reading is kept where the lines are sure of fewer than half the cells, not where they
    are sure of most."""
    from pipeline.classify.decoded import Decoded
    from pipeline.classify.stage import _prefer_stream
    from pipeline.model import Cell
    keys = [f"active/art20_1.regulations/{c}" for c in ("issued", "repealed", "in_force")]
    st = Decoded(kind="active", cells={k: Cell(row=0, col=0, text="1") for k in keys},
                 placement={k: 0.5 for k in keys})
    lines = Decoded(kind="active", cells={k: Cell(row=0, col=0, text="2") for k in keys},
                    placement={k: 0.5 for k in keys[1:]})
    assert _prefer_stream(st, lines)
    lines.placement = {keys[0]: 0.5}
    assert not _prefer_stream(st, lines)
