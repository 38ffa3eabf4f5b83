"""Templates are data: loaded once, validated loudly, expanded into keys and equations."""
import pytest

from pipeline.templates import TemplateError, label_classes, load_template, templates, TEMPLATE_DIR


def test_both_templates_load():
    t = templates()
    assert set(t) == {"2019", "2021"}
    assert len(t["2019"].keys("requests")) == 23 * 7
    assert len(t["2021"].keys("requests")) == 25 * 7          # `other` is accepted, not expected
    assert len(t["2021"].keys("requests", expected_only=False)) == 26 * 7
    assert "active/art20_9.central_procurement/procurement_amount" in t["2019"].keys()
    assert "active/art20_8.admin_fees/fee_amount" in t["2021"].keys()
    assert len(t["2019"].keys("appeals")) == 15


def test_equations_expand():
    t = templates()["2021"]
    names = [e.name for e in t.equations]
    assert "requests/natural_person: new_received + carried_over = total + carried_forward" in names
    row_total = next(e for e in t.equations if e.name == "requests/granted: total = sum of applicant columns")
    assert row_total.lhs == ("requests/granted/total",) and len(row_total.rhs) == 6
    present = set(t.keys()) - {"requests/granted/natural_person"}
    eq = next(e for e in t.expand_equations(present) if e.name.startswith("requests/natural_person: total ="))
    assert "requests/granted/natural_person" not in eq.rhs
    assert "requests/other/natural_person" not in eq.rhs  # hybrid row absent: term dropped


def test_variants_are_data():
    cls = label_classes(templates()["2019"])
    assert "社会组织" in cls["requests.col:social_welfare_org"]
    assert "行政规范性文件" in cls["active.row:art20_1.normative_docs"]


@pytest.mark.parametrize("mutate,msg", [
    (lambda s: s.replace("key: regulations", "key: Regulations"), "lower_snake"),
    (lambda s: s.replace("{key: carried_over,", "{key: new_received,"), "repeats key"),
    (lambda s: s.replace("requests/carried_over/<c>]", "requests/carried_ovr/<c>]"), "unknown keys"),
    (lambda s: s.replace("  appeals:\n", "  appealz:\n"), "tables lacks"),
    (lambda s: s.replace("rows:\n", "rows: [\n", 1), ""),
])
def test_malformed_template_fails_with_file_and_line(tmp_path, mutate, msg):
    src = (TEMPLATE_DIR / "2021.yaml").read_text(encoding="utf-8")
    bad = mutate(src)
    assert bad != src
    p = tmp_path / "broken.yaml"
    p.write_text(bad, encoding="utf-8")
    with pytest.raises(TemplateError) as e:
        load_template(p)
    assert str(p) in str(e.value) and msg in str(e.value)
    if msg:
        line = int(str(e.value).split(str(p) + ":")[1].split(":")[0])
        assert line > 1
