"""Issue #13: an appeals group total that only its place says is 0 rather than blank (or blank
rather than 0), on text whose values stand as separate text blocks (pdftotext's default mode),
is doubted: its group's equation holds either way and the tool's block order may have moved it.
Fixtures: val_00018 and val_00023 of datasets/generated/s23b (pdftotext default, real tool)."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.classify.decoded import Decoded, appeal_parts, doubt_block_order, guessed_totals
from pipeline.export import to_result
from pipeline.model import Cell
from pipeline.run import extract
from pipeline.templates import templates

FIX = Path(__file__).parent / "fixtures" / "flattened_default"
REVIEW = 0.995


def _case(name: str) -> tuple[dict, dict]:
    truth = json.loads((FIX / f"{name}.truth.json").read_text(encoding="utf-8"))["cells"]
    return truth, to_result(extract(FIX / f"{name}.pdftotext.txt"))


def test_totals_read_0_or_blank_by_place_alone_are_not_confident():
    """v023: a `／` of the review group printed after the next groups' values, so review's total
    reads the 0 that begins the next group (its parts `／`: the sum holds either way); v018: the
    totals of groups mixing 0s and `-` read by block order. No confident wrong cell, not `ok`."""
    for name in ("v023", "v018"):
        truth, res = _case(name)
        app = {k: v for k, v in truth.items() if k.startswith("appeals/")}
        wrong = [k for k, v in app.items() if k in res["cells"] and res["cells"][k]["value"] != v]
        assert wrong, name
        assert not [k for k in wrong if res["cells"][k]["confidence"] >= REVIEW], name
        assert res["status"] != "ok", name
    _, res = _case("v023")
    assert res["cells"]["appeals/review/total"]["confidence"] < REVIEW
    # the group that prints only `／`, total included, has nothing to swap: it stays sure
    assert all(res["cells"][f"appeals/litigation_after_review/{c}"]["confidence"] >= REVIEW
               for c in ("upheld", "corrected", "other", "pending", "total"))


def _decoded(texts: list[str]) -> tuple[Decoded, list[list[str]]]:
    tpl = templates()["2021"]
    keys = [f"appeals/{g.key}/{c.key}" for g in tpl.appeal_groups for c in tpl.appeal_columns]
    return (Decoded(kind="appeals", cells={k: Cell(row=i, col=i, text=t) for i, (k, t) in enumerate(zip(keys, texts))}),
            appeal_parts(tpl))


def test_guessed_totals_only_where_a_part_reads_the_other_of_0_and_blank():
    d, parts = _decoded(["／", "／", "／", "／", "0",      # total 0, parts blank: doubted
                         "0", "0", "0", "3", "3",          # a non-zero part: the sum places it
                         "0", "0", "0", "0", "0"])         # all 0: nothing to swap
    got = guessed_totals(d, parts, 0.9)
    assert got == {"appeals/review/total"} and d.placement == {"appeals/review/total": 0.9}
    d2, _ = _decoded(["0", "-", "0", "-", "-"] + ["-"] * 10)   # total blank, parts 0 and blank
    assert guessed_totals(d2, parts, 0.9) == {"appeals/review/total"}


def test_guessed_totals_need_values_printed_as_blocks_and_a_disturbed_order():
    """The same row on one line (-layout, -raw) keeps the page's order: nothing is doubted.
    Printed as blocks, a total is doubted only where the reading shows the order disturbed
    (here a group whose parts do not sum to its total; or a header broken across columns):
    a row that balances as printed under whole headers keeps its totals (test_00019/20 of s22b)."""
    texts = ["／", "／", "／", "／", "0", "0", "0", "3", "0", "／"] + ["0"] * 5
    d, parts = _decoded(texts)
    assert doubt_block_order(d, parts, "行政复议\n" + " ".join(texts) + "\n") == set()
    d2, _ = _decoded(texts)
    assert doubt_block_order(d2, parts, "行政复议\n" + "\n\n".join(texts) + "\n") == {"appeals/review/total"}
    balanced = ["／", "／", "／", "／", "0"] + ["0"] * 10
    d3, _ = _decoded(balanced)
    assert doubt_block_order(d3, parts, "行政复议\n" + "\n\n".join(balanced) + "\n") == set()
