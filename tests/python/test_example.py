"""examples/reinforce_placer.py end to end: trains a few steps, writes a placement file the CLI reads."""
import importlib.util
import json

import pytest

from conftest import CLUSTER, MODEL, ROOT, run_cli


def test_reinforce_example_writes_a_placement_compare_reads(problem, tmp_path):
    spec = importlib.util.spec_from_file_location("reinforce_placer", ROOT / "examples" / "reinforce_placer.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = tmp_path / "reinforce.json"
    assert example.main(["--model", MODEL, "--cluster", CLUSTER, "--steps", "3", "--samples", "4", "--out",
                         str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["placer"]["name"] == "python-reinforce" and written["placer"]["options"]["steps"] == 3
    step_time = problem.simulate(problem.read_placement(str(out))).step_time
    assert written["step_time_ms"] == pytest.approx(step_time * 1e3, rel=1e-12)
    report = tmp_path / "report"
    run_cli("compare", "--models", MODEL, "--mode", "training", "--cluster", CLUSTER, "--placers", "single",
            "--placements", str(out), "-o", str(report))
    rows = json.loads((report / "results.json").read_text())["models"][0]["rows"]
    assert [r["name"] for r in rows] == ["single", "python-reinforce"]
    assert rows[1]["step_time"] == pytest.approx(step_time, rel=1e-12) and rows[1]["placement_seconds"] is None
