"""Pinned outputs of the blank-aware readers (issue #19): one value parser (values.parse_value)
and one blank list in configs/values.yaml must leave a recogniser's reading (ocr.parse_value),
printed text (values.parse_value) and keymodel's cell shape exactly as they were; the rule sets
that make them differ are data (configs/values.yaml parse_rules)."""
import pytest

from pipeline import ctc, keymodel, ocr, review_files, values
from pipeline import joined_cells
from pipeline.grid_cells import grid_config

# (text, ocr.parse_value, values.parse_value, values.parse_value(kind="amount"), keymodel cell shape)
PINNED = [
    ('', (True, None), (True, None), (True, None), 'blank'),
    (' ', (True, None), (True, None), (True, None), 'blank'),
    ('/', (True, None), (True, None), (True, None), 'dash'),
    ('／', (True, None), (True, None), (True, None), 'dash'),
    ('\\', (True, None), (True, None), (True, None), 'text'),
    ('—', (True, None), (True, None), (True, None), 'dash'),
    ('——', (True, None), (True, None), (True, None), 'dash'),
    ('-', (True, None), (True, None), (True, None), 'dash'),
    ('--', (True, None), (True, None), (True, None), 'numlike'),
    ('---', (True, None), (False, None), (False, None), 'numlike'),
    ('–', (True, None), (True, None), (True, None), 'dash'),
    ('－', (True, None), (True, None), (True, None), 'dash'),
    ('一', (True, None), (False, None), (False, None), 'text'),
    ('_', (False, None), (True, None), (True, None), 'text'),
    ('x', (False, None), (True, None), (True, None), 'text'),
    ('X', (False, None), (True, None), (True, None), 'text'),
    ('×', (False, None), (True, None), (True, None), 'text'),
    ('无', (True, None), (True, None), (True, None), 'zeroish'),
    ('空', (True, None), (True, None), (True, None), 'zeroish'),
    ('0', (True, 0), (True, 0), (True, 0.0), 'zeroish'),
    ('05', (False, None), (True, 5), (True, 5.0), 'num'),
    ('00', (False, None), (True, 0), (True, 0.0), 'num'),
    ('0.5', (True, 0.5), (True, 0.5), (True, 0.5), 'num'),
    ('12人次', (False, None), (True, 12), (True, 12.0), 'text'),
    ('152790元', (True, 15.279), (True, 152790), (True, 15.279), 'num'),
    ('211.509万', (True, 211.509), (True, 211.509), (True, 211.509), 'num'),
    ('211.509万元', (True, 211.509), (True, 211.509), (True, 211.509), 'num'),
    ('+43', (True, 43), (True, 43), (True, 43.0), 'num'),
    ('-1942', (True, -1942), (True, -1942), (True, -1942.0), 'num'),
    ('−5', (False, None), (False, None), (False, None), 'num'),
    ('1,234', (True, 1234), (True, 1234), (True, 1234.0), 'num'),
    ('1，234', (True, 1234), (True, 1234), (True, 1234.0), 'num'),
    ('16368(件)', (True, 16368), (True, 16368), (True, 16368.0), 'numlike'),
    ('16368（件）', (True, 16368), (True, 16368), (True, 16368.0), 'numlike'),
    ('3.0', (True, 3.0), (True, 3), (True, 3.0), 'num'),
    ('12.5', (True, 12.5), (True, 12.5), (True, 12.5), 'num'),
    ('一二', (False, None), (False, None), (False, None), 'text'),
    ('合计', (False, None), (False, None), (False, None), 'text'),
    ('0件', (True, 0), (True, 0), (True, 0.0), 'num'),
    ('ノ', (False, None), (False, None), (False, None), 'text'),
    ('丿', (False, None), (False, None), (False, None), 'text'),
    ('//', (True, None), (False, None), (False, None), 'text'),
    ('-/', (True, None), (False, None), (False, None), 'text'),
    ('12 34', (True, 1234), (True, 1234), (True, 1234.0), 'num'),
    ('１２', (True, 12), (True, 12), (True, 12.0), 'num'),
]


def _typed(r):
    return r[0], type(r[1]).__name__, r[1]


@pytest.mark.parametrize("text,want_ocr,want_text,want_amount,want_shape", PINNED)
def test_blank_readers_unchanged(text, want_ocr, want_text, want_amount, want_shape):
    assert _typed(ocr.parse_value(text)) == _typed(want_ocr)
    assert _typed(values.parse_value(text)) == _typed(want_text)
    assert _typed(values.parse_value(text, "amount")) == _typed(want_amount)
    assert keymodel._shape(text) == want_shape


def test_one_blank_list_in_config():
    """Every reader's blanks are the shared printed marks plus its own named addition."""
    cfg = values.blank_config()
    core = set(cfg["blank_marks"])
    assert values.BLANKS == core | set(cfg["text_blank_marks"])
    assert ocr.BLANK_MARKS == core | set(cfg["ocr_blank_marks"])
    assert keymodel.BLANKISH == core | set(cfg["key_blankish_marks"])
    assert "0" not in values.BLANKS and "0" in keymodel.BLANKISH and "一" in ocr.BLANK_MARKS
    # the scan grid and joined runs take the shared marks with named changes, no list of their own
    grid, joined = values.blank_marks("grid_blank_marks"), values.blank_marks("joined_blank_marks")
    assert grid == {"/", "-", "—", "–", "无", "－", "／", "ノ", "丿"} and "" not in grid and "一" not in grid
    assert joined == set("—/／-－–") and "无" not in joined
    assert "blank_marks" not in grid_config() and "blank_marks" not in joined_cells.settings()


def test_one_parser_rule_sets():
    """The recogniser's parser is the one parser with the `recognised` rules and kind auto;
    each rule set's blanks are the shared marks plus its named addition."""
    cfg = values.blank_config()
    assert ocr.parse_value is ctc.parse_value
    for name, spec in cfg["parse_rules"].items():
        assert values.parse_rules(name).blanks == set(cfg["blank_marks"]) | set(cfg[spec["blanks"]])
    for text, _, _, _, _ in PINNED:
        assert ctc.parse_value(text) == values.parse_value(text, "auto", rules="recognised")
    # the differences, as the rule sets and kinds say
    assert values.parse_value("152790元") == (True, 152790)                      # count: unit ignored
    assert values.parse_value("152790元", "auto") == (True, 15.279)              # auto: 元 → 万元
    assert values.parse_value("05", "auto", rules="recognised") == (False, None)   # leading_zero: false
    assert values.parse_value("1,2", rules="printed") == (False, None)            # commas: grouping
    assert values.parse_value("1,2", "auto", rules="recognised") == (True, 12)     # commas: drop
    with pytest.raises(ValueError):
        values.parse_value("1", "weight")


@pytest.mark.parametrize("typed,want", [
    ("12", 12), (" 1,234 ", 1234), ("1，234", 1234), ("3.0", 3.0), ("-5", -5), ("１２", 12),
    ("", None), ("/", None), ("—", None), ("无", None),
])
def test_review_typed_values(typed, want):
    """The review page's typed values go through the same parser (rules `typed`): a printed
    blank mark typed by a person is a blank, a full-width comma is a comma."""
    got = review_files.parse_value(typed)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("typed", ["12a", "1 2", "12元", "05x", "--5", "1.2.3"])
def test_review_typed_values_refused(typed):
    with pytest.raises(review_files.BadRequest):
        review_files.parse_value(typed)
