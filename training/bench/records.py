"""What a compared system hands the scorer: its cells (value, confidence, page, box) and
its grid boxes, in the source page's frame; and gouji's classify stage keying a peer's cells."""
from __future__ import annotations

import math

import numpy as np


def page_transforms(doc) -> dict:
    """Page number → function mapping a box of gouji's upright, deskewed page back to the
    source page (PDF points), so boxes compare with the printed cells'."""
    out = {}
    for p in doc.pages:
        rot = int(getattr(p, "rotation", 0) or 0) % 360
        skew = float(getattr(p, "skew", 0.0) or 0.0)
        if not rot and not skew:
            continue
        W, H = float(p.width), float(p.height)   # of the final (rotated) page

        def f(bb, W=W, H=H, rot=rot, skew=skew):
            pts = np.array([[bb[0], bb[1]], [bb[2], bb[1]], [bb[0], bb[3]], [bb[2], bb[3]]], float)
            w, h = W, H
            for _ in range(rot // 90):            # undo one counter-clockwise quarter turn
                pts = np.column_stack([h - pts[:, 1], pts[:, 0]])
                w, h = h, w
            if skew:                              # undo rotate_small(angle) about the centre
                a = math.radians(-skew)
                ca, sa = math.cos(a), math.sin(a)
                cx, cy = w / 2, h / 2
                x, y = pts[:, 0] - cx, pts[:, 1] - cy
                pts = np.column_stack([ca * x + sa * y + cx, -sa * x + ca * y + cy])
            return [float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())]
        out[p.number] = f
    return out


def cells_of(result: dict, transforms: dict | None = None, with_conf: bool = True) -> dict:
    out = {}
    for k, c in result["cells"].items():
        bb, page = c.get("bbox"), c.get("page")
        if bb is not None and transforms and page in transforms:
            bb = transforms[page](bb)
        out[k] = {"value": c.get("value"), "confidence": c.get("confidence") if with_conf else None,
                  "page": page, "bbox": bb}
    return out


def grid_of(doc, transforms: dict | None = None) -> list:
    out = []
    for p in doc.pages:
        for t in p.tables:
            for c in t.cells:
                if c.bbox is None:
                    continue
                page = c.page or t.page or p.number
                bb = list(c.bbox)
                if transforms and page in transforms:
                    bb = transforms[page](bb)
                out.append([page] + [float(v) for v in bb])
    return out


def keyed_by_gouji(reader):
    """A peer's reader in an Extractor whose only other stage is gouji's classify (the
    Extractor's Classifier; trained mapper if shipped): keys for the peer's cells, no grid,
    no solver, no scorer. A reader that raises, or a classify that fails, gives a failed
    Document (Extractor.extract), as for gouji itself."""
    from pipeline.extractor import Classifier, Extractor
    from pipeline.run import Settings
    return Extractor(reader=reader, gridder=False, regions=False, classifier=Classifier(Settings(mapper="auto")),
                     solver=False, scorer=False)
