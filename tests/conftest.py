import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


def load_expected(seed: Path) -> dict:
    return json.loads(seed.with_suffix(".expected.json").read_text(encoding="utf-8"))
