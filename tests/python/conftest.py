"""Fixtures for the Python module's tests: run by ctest (python/CMakeLists.txt sets PYTHONPATH, ALLOT_BINARY and
ALLOT_SOURCE_DIR), or by hand: PYTHONPATH=build/python python3 -m pytest tests/python."""
import json
import os
import pathlib
import subprocess

import pytest

import allot

ROOT = pathlib.Path(os.environ.get("ALLOT_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BINARY = os.environ.get("ALLOT_BINARY", str(ROOT / "build" / "allot"))

# A small training graph where placement matters (single 10.1 ms, refine 8.0 ms on p100x4).
MODEL = "gen:nas_cnn,seed=3"
CLUSTER = "p100x4"


def run_cli(*args, check=True):
    """Runs the allot binary; returns the CompletedProcess (text)."""
    p = subprocess.run([BINARY, *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"allot {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def cli_json(*args):
    return json.loads(run_cli(*args, "--json").stdout)


def cli_error(*args):
    """The one-line message of a failing allot command (without the 'allot: ' prefix)."""
    p = run_cli(*args, check=False)
    assert p.returncode != 0 and p.stderr.startswith("allot: ") and p.stderr.count("\n") == 1
    return p.stderr.strip()[len("allot: "):]


@pytest.fixture(scope="session")
def model():
    return allot.load_model(MODEL, mode="training")


@pytest.fixture(scope="session")
def problem(model):
    return allot.Problem(model, CLUSTER)
