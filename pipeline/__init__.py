"""gouji: cross-checked figures from 政府信息公开工作年度报告.

    >>> import gouji
    >>> doc = gouji.extract("report.pdf")          # a Document; never raises for a bad file
    >>> doc.status, [t.name for t in doc.tables]
    >>> result = gouji.to_result(doc)              # the result JSON of docs' output format
    >>> ex = gouji.Extractor(solver=False)         # stages composed: pipeline/extractor.py
    >>> doc = ex("report.pdf")
"""
__version__ = "0.1.0"

from .export import to_result  # noqa: E402
from .extractor import Extractor  # noqa: E402
from .run import Settings, extract  # noqa: E402

__all__ = ["extract", "Extractor", "Settings", "to_result", "__version__"]
