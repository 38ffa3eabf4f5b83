"""`gouji inspect` draws the detected tables, grid and readings on the page."""
from __future__ import annotations

import numpy as np
from PIL import Image

from pipeline.cli import main
from pipeline.inspect import inspect_file
from tablefix import make_pdf


def test_inspect_writes_a_png_with_the_grid(tmp_path):
    pdf = tmp_path / "t.pdf"
    make_pdf(pdf, seed=5)
    [png] = inspect_file(pdf, page=1, out=tmp_path / "p1.png")
    im = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert im.shape[1] > 1000
    blue = (im[:, :, 2] > 200) & (im[:, :, 0] < 60)     # the table box
    green = (im[:, :, 1] > 130) & (im[:, :, 0] < 60) & (im[:, :, 2] < 60)   # cells
    red = (im[:, :, 0] > 180) & (im[:, :, 1] < 60)      # readings
    assert blue.sum() > 2000 and green.sum() > 5000 and red.sum() > 200


def test_cli_inspect_default_output_and_bad_page(tmp_path, capsys):
    pdf = tmp_path / "t.pdf"
    make_pdf(pdf, seed=6)
    assert main(["inspect", str(pdf)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.endswith("t.inspect-p1.png") and (tmp_path / "t.inspect-p1.png").exists()
    import pytest
    with pytest.raises(SystemExit, match="no page 9"):
        inspect_file(pdf, page=9)


def test_inspect_draws_the_page_layout_regions():
    """The regions of page.layout are drawn: removing one Text block changes only its area."""
    from pathlib import Path

    import layoutparser as lp

    from pipeline import grid, layout, read
    from pipeline.grid import page_scale
    from pipeline.inspect import draw_page
    from pipeline.run import Settings

    s = Settings()
    doc = read.read(Path(__file__).resolve().parents[1] / "datasets/samples/s2021_a.digital.pdf", s)
    for p in doc.pages[1:]:
        p.image = None
    grid.recover(doc, s)
    layout.fill(doc)
    page = doc.pages[0]
    assert isinstance(page.layout, lp.Layout) and any(b.type == "Table" for b in page.layout)
    full = np.asarray(draw_page(page, doc.tables)).astype(int)
    text = next(b for b in page.layout if b.type == "Text")
    page.layout = lp.Layout([b for b in page.layout if b is not text])
    less = np.asarray(draw_page(page, doc.tables)).astype(int)
    diff = np.abs(full - less).sum(axis=2) > 30
    head = max(12, full.shape[1] // 70) + 20                   # the info line counts the regions
    assert diff[:head].any()
    diff[:head] = False
    assert diff.sum() > 200                                    # the block was drawn
    ys, xs = np.nonzero(diff)
    sc = page_scale(page)
    x0, y0, x1, y1 = (v * sc for v in text.coordinates)
    m = 6                                                      # pad + outline width
    assert x0 - m <= xs.min() and xs.max() <= x1 + m and y0 - m <= ys.min() and ys.max() <= y1 + m
    # its orange outline is there
    box = full[int(y0) - 3:int(y1) + 4, int(x0) - 3:int(x1) + 4]
    orange = (box[:, :, 0] > 200) & (box[:, :, 1] > 100) & (box[:, :, 1] < 180) & (box[:, :, 2] < 60)
    assert orange.sum() > 50


def test_every_page_of_many_files(tmp_path, capsys):
    """`python -m pipeline.inspect --out DIR FILE...` (make inspect-samples): one PNG per page."""
    from pipeline.inspect import main as inspect_main
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    make_pdf(a, seed=7, pages=2)
    make_pdf(b, seed=8)
    assert inspect_main(["--out", str(tmp_path / "o"), str(a), str(b)]) == 0
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["a-p1.png", "a-p2.png", "b-p1.png"]
    assert capsys.readouterr().out.count(".png") == 3
