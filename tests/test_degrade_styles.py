"""Degradation styles of the scan corpus (training/synth/degrade.py): each does what it
says to the pixels, and the held-out ones are never drawn for the train split."""
import numpy as np

from pipeline.templates import config
from training.synth import degrade as dg

HEAVY = dict(config("synth.yaml")["degrade"]["heavy"])
HELD = config("synth.yaml")["held_out_styles"]


def _page():
    """A white page with a ruled box and a few dark strokes (digits-like)."""
    img = np.full((600, 400), 255, np.uint8)   # grey here, RGB below (degrade_page takes RGB)
    img[100:102, 50:350] = 0
    img[300:302, 50:350] = 0
    img[100:302, 50:52] = 0
    img[100:302, 348:350] = 0
    for x in range(80, 320, 30):
        img[180:220, x:x + 3] = 40
    return np.ascontiguousarray(np.stack([img] * 3, axis=-1))


def _degraded(styles, seed=0, **over):
    lc = {**HEAVY, "holes_p": 0.0, "lighting_p": 0.0, "blur_p": 0.0, "rotate_p": 0.0, "noise": [0, 0],
          "_binarize": False, "_quality": 95, "_styles": styles, **over}
    img, _, info = dg.degrade_page(np.random.default_rng(seed), _page(), np.zeros((0, 4)), lc, 200, False, {})
    return img, info


def test_held_out_styles_are_never_drawn_for_train():
    lc = {"styles": {s: 1.0 for s in ("embolden", *HELD)}}
    for seed in range(20):
        got = dg.draw_styles(np.random.default_rng(seed), lc, True, HELD)
        assert got == ["embolden"]
        assert set(dg.draw_styles(np.random.default_rng(seed), lc, False, HELD)) == {"embolden", *HELD}


def test_held_out_styles_are_configured_and_drawn_by_the_heavy_level():
    assert HELD and set(HELD) <= set(HEAVY["styles"])


def test_embolden_grows_ink_and_thin_eats_it():
    plain, _ = _degraded([])
    bold, info = _degraded(["embolden"])
    thin, _ = _degraded(["thin"])
    dark = lambda im: int((im < 128).sum())           # noqa: E731
    assert dark(bold) > dark(plain) > dark(thin)
    assert "embolden" in info["ops"]


def test_binding_shadow_darkens_one_side():
    img, info = _degraded(["binding_shadow"])
    left, right = float(img[:, :10].mean()), float(img[:, -10:].mean())
    assert abs(left - right) > 40 and "binding_shadow" in info["ops"]


def test_fax_header_prints_a_line_at_the_top():
    plain, _ = _degraded([])
    fax, info = _degraded(["fax_header"])
    assert (fax[:40] < 128).sum() > (plain[:40] < 128).sum() + 50
    assert "fax_header" in info["ops"]


def test_global_binarisation_leaves_two_levels():
    img, info = _degraded(["binarize_global"])
    assert set(np.unique(img).tolist()) <= {0, 255}
    assert info["binarized"] and any(o.startswith("binarize_global:") for o in info["ops"])
