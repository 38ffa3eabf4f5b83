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
