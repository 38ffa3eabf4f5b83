"""Pinned outputs of the three blank-aware readers (issue #19): one blank list in configs/values.yaml
must leave ocr.parse_value, values.parse_value and keymodel's cell shape exactly as they were."""
import pytest

from pipeline import keymodel, ocr, values

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
