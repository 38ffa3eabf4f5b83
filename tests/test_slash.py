"""A printed ／ (blank mark) told from a 1 by the slant of its ink (grid_crops.is_slash, issue #14:
test_00013 heavy's emboldened ／ read as 1 by both recognisers)."""
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.grid_cells import grid_config
from pipeline.grid_crops import is_slash, slash_shape

FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def crop(text: str, font: str, bold: int = 0) -> np.ndarray:
    """A one-line cell crop as cell_lines cuts it: trimmed to the ink rows, white at the sides.
    `bold` thickens the strokes (a heavy scan's embolden)."""
    im = Image.new("L", (140, 44), 255)
    ImageDraw.Draw(im).text((30, 4), text, fill=0, font=ImageFont.truetype(font, 28),
                            stroke_width=bold, stroke_fill=0)
    a = np.array(im)
    ys, _ = np.where(a < 128)
    a = a[ys.min():ys.max() + 1]
    return np.pad(a, ((0, 0), (a.shape[0], a.shape[0])), constant_values=255)


@pytest.mark.parametrize("font", FONTS)
@pytest.mark.parametrize("bold", [0, 1, 2])
def test_a_slash_is_a_blank_mark_and_digits_and_dashes_are_not(font, bold):
    assert is_slash(crop("／", font, bold)) and is_slash(crop("/", font, bold))
    for t in ("1", "7", "4", "0", "11", "—", "l"):
        assert not is_slash(crop(t, font, bold)), t


def test_the_slant_is_measured_anticlockwise_from_the_horizontal():
    s, one = slash_shape(crop("／", FONTS[0], 2)), slash_shape(crop("1", FONTS[0], 2))
    assert 40 < s["angle"] < 75 and s["parts"] == 1 and s["elong"] > 3
    assert 85 < one["angle"] < 100                      # upright
    back = slash_shape(np.ascontiguousarray(crop("／", FONTS[0])[:, ::-1]))   # mirrored: a \
    assert 105 < back["angle"] < 140
    assert slash_shape(np.full((20, 40), 255, np.uint8)) is None


def test_the_prior_of_a_slash_is_mostly_blank():
    prior = dict((v, p) for v, p in grid_config()["slash"]["prior"])
    assert prior[None] > 0.5 and abs(sum(prior.values()) - 1) < 1e-9


def test_a_slash_read_as_1_or_nothing_takes_the_prior_and_a_ticked_0_keeps_its_0():
    from pipeline.grid import read_as_slash
    from pipeline.model import Cell
    assert read_as_slash(Cell(row=0, col=0, text="1", readings=[(0, 0.8), (1, 0.2)]))   # PP-OCR: 1, digit model: 0
    assert read_as_slash(Cell(row=0, col=0, text="", readings=[(1, 0.4), (0, 0.3)]))
    assert read_as_slash(Cell(row=0, col=0, text="", readings=[]))
    assert not read_as_slash(Cell(row=0, col=0, text="", readings=[(0, 0.83), (1, 0.17)]))   # a tick over a 0
    assert not read_as_slash(Cell(row=0, col=0, text="7", readings=[(7, 0.9), (1, 0.1)]))


@pytest.mark.parametrize("bold", [0, 2])
def test_shape_flags_give_what_the_three_tests_give(bold):
    """grid_crops.shape_flags (one threshold and component count for a one-line cell) answers as
    is_dash, is_blob and is_slash each do on their own: a slash, a dash, a filled blob, digits,
    two glyphs, specks and an empty crop."""
    from pipeline.grid_crops import is_blob, is_dash, shape_flags
    rng = np.random.default_rng(3)
    blob = np.full((30, 60), 255, np.uint8)
    blob[4:26, 24:36] = 0
    specks = np.where(rng.random((24, 50)) < 0.05, 0, 255).astype(np.uint8)
    crops = [crop(t, FONTS[0], bold) for t in ("／", "/", "—", "-", "0", "1", "11", "7")]
    crops += [blob, specks, np.full((20, 40), 255, np.uint8)]
    seen = set()
    for c in crops:
        flags = shape_flags(c)
        assert flags == (is_dash(c), is_blob(c), is_slash(c))
        seen.add(flags)
    assert (False, False, True) in seen and (True, False, False) in seen and (False, True, False) in seen
