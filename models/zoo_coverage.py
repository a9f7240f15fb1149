#!/usr/bin/python3
"""Measure how much of the real-model zoo (export_zoo.py) allot imports, places, runs, and runs correctly.

Why: export_zoo.py exports every torchvision classification, segmentation and detection model and PyTorch's
sequence modules at opsets 11, 13, 14 and 17 plus a dynamic-batch opset-14 variant, each with PyTorch's reference
output. This script is the benchmark over that matrix: for every (model, variant) it asks allot to
    export   (export_zoo.py, run in a child process; its meta.json says whether the exporter failed)
    import   allot inspect MODEL --json                                    nodes, warnings, import_seconds
    place    allot place MODEL --cluster cpu2 --placer etf -o P.json       two virtual CPU devices, so that the run
                                                                           copies tensors between devices
    run      allot run MODEL --placement P.json --steps 1 --warmup 0 --inputs DATA --outputs OUTDIR
    match    every OUTDIR/output_K.pb against the reference DATA/output_K.pb
(with --batch 1 on each allot command for the dynbatch variant), and records the first step that failed with the
first line of allot's error ("allot: ...").

What "match" means: same shape and same dtype; integer and bool outputs equal element for element; floating
outputs within 1e-3 of the output's scale, max|actual - expected| <= 1e-3 * max(max|expected|, tiny). The
tolerance is relative to the scale because the models have random weights: deep ones reach 1e12 at the output,
where an absolute tolerance would be meaningless. The worst relative error of every output is recorded. A
"degenerate" reference (every element equal, or no element at all: a detection model that detected nothing)
tests little, and is flagged in the report.

Layout: the zoo is export_zoo.py's (OUT/NAME/opsetK/..., OUT/NAME/opset14_dynbatch/...), and next to it
    OUT/coverage.json                 one entry per model+variant ("resnet18/opset14"): family, status of each step,
                                      the failing step and its error, timings, warnings, per-output errors; written
                                      atomically after every model+variant, so an interrupted run (Ctrl-C included)
                                      resumes where it stopped: entries present are skipped unless --retest
                                      (--retest-failed: those that did not match); Ctrl-C and SIGTERM stop the
                                      allot or export child and leave coverage.json as of the last entry
    OUT/NAME/VARIANT/pruned.json      the marker left where model.onnx and weights.bin were deleted by --prune-mb
                                      (meta.json and test data stay); export_zoo.py then counts it as exported
The allot binary is copied to a temporary folder at the start (and its sha256 recorded), so that a rebuild during
a long run changes nothing; placements and outputs are written there too and deleted afterwards. Exports are
done by export_zoo.export_model in a child process (a crash or an out-of-memory kill takes only it down): a model's
first missing variant alone, then, when its exports stay under --prune-mb, all its other missing variants at once
(the model is built once); a larger model one variant at a time, each tested and pruned before the next is
written, so that the disk holds one of them at a time.

Run with Debian's interpreter, which has torch, torchvision and onnx; this reproduces the README's table (the whole
zoo: exports and tests take hours on two cores; at most --prune-mb MB of exports are kept per model+variant):
    nice -n 10 /usr/bin/python3 models/zoo_coverage.py --out out/zoo --report
A subset, and the report of what coverage.json holds, without testing anything:
    /usr/bin/python3 models/zoo_coverage.py --out out/zoo --models 'resnet18,lraspp*,lstm_lm' --opsets 14
    /usr/bin/python3 models/zoo_coverage.py --out out/zoo --report-only --write-markdown out/zoo/coverage.md
The report covers every entry of coverage.json, whatever this run selected.
"""

import argparse
import collections
import datetime
import fnmatch
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MODELS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(MODELS_DIR)
COVERAGE_FILE = "coverage.json"
PRUNE_MARKER = "pruned.json"
FORMAT = "allot-zoo-coverage"
STEPS = ("export", "import", "place", "run", "match")
FAMILIES = ("classification", "segmentation", "detection", "sequence")
FAMILY_NAMES = {"nn": "sequence"}  # export_zoo.py's family of PyTorch's own modules
TOLERANCE = 1e-3
CLUSTER, PLACER = "cpu2", "etf"


# ---- allot -----------------------------------------------------------------------------------------------------------

def snapshot_allot(path, folder, wait_seconds=600):
    """Copies the allot binary into folder once it is complete (present, executable, unchanged for 2 s, and
    answering --help): the binary is rebuilt in place from time to time. Returns (copy, description)."""
    deadline = time.time() + wait_seconds
    while True:
        try:
            before = os.stat(path)
            time.sleep(2)
            after = os.stat(path)
            if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns):
                copy = os.path.join(folder, "allot")
                shutil.copy2(path, copy)
                if subprocess.run([copy, "--help"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  timeout=60).returncode == 0:
                    break
        except (OSError, subprocess.SubprocessError):
            pass
        if time.time() > deadline:
            raise SystemExit(f"zoo_coverage: {path} is missing or does not run (waited {wait_seconds} s)")
        time.sleep(5)
    with open(copy, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:16]
    git = None
    try:
        head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        git = head + ("+dirty" if dirty else "") if head else None
    except (OSError, subprocess.SubprocessError):
        pass
    built = datetime.datetime.fromtimestamp(after.st_mtime).isoformat(timespec="seconds")
    return copy, dict(sha256=sha, path=os.path.abspath(path), built=built, git=git)


def run_process(cmd, timeout, log_path=None):
    """Runs cmd in its own process group. Returns (returncode or None on timeout, stdout, stderr); with log_path,
    stdout and stderr go to that file and come back empty. Ctrl-C ends the child too, then raises
    KeyboardInterrupt."""
    log = open(log_path, "wb") if log_path else None
    try:
        proc = subprocess.Popen(cmd, stdout=log or subprocess.PIPE, stderr=log or subprocess.PIPE,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
            return proc.returncode, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")
        except subprocess.TimeoutExpired:
            stop(proc)
            return None, "", ""
        except BaseException:
            stop(proc)
            raise
    finally:
        if log:
            log.close()


def stop(proc):
    """SIGINT to the child's group (an exporter cleans up its temporary folder), SIGKILL after 10 s."""
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.communicate(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def allot_error(returncode, stderr, timeout):
    """The line that says why allot failed: its first "allot: ..." line that is not a warning, else the first line
    of stderr, else how it ended."""
    if returncode is None:
        return f"timed out after {timeout:g} s"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("allot:") and "warning" not in line.lower()]
    if errors:
        return errors[0][:1000]
    if lines:
        return lines[0][:1000]
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}, no message"


def stderr_warnings(stderr):
    return [line.strip() for line in stderr.splitlines() if "warning" in line.lower()]


# ---- export ----------------------------------------------------------------------------------------------------------

EXPORT_CHILD = """
import sys
sys.path.insert(0, {models_dir!r})
import export_zoo
spec = export_zoo.registry()[{name!r}]
sys.exit(1 if export_zoo.export_model(spec, {out!r}, {opsets!r}, {dynbatch!r}, {seed!r}, force=True) else 0)
"""


def export_variants(args, spec, variants, tmp):
    """Runs export_zoo.export_model for these variants of spec in a child process (an exporter that crashes or runs
    out of memory takes only the child down). Each of them is exported afresh (export_zoo.py's force: a pruned
    folder has a meta.json too). Returns the error of the variants the child left without a meta.json, or None."""
    opsets = sorted(v["opset"] for v in variants if not v["dynamic"])
    dynbatch = any(v["dynamic"] for v in variants)
    code = EXPORT_CHILD.format(models_dir=MODELS_DIR, name=spec.name, out=os.path.abspath(args.out), opsets=opsets,
                               dynbatch=dynbatch, seed=args.seed)
    log_path = os.path.join(tmp, "export.log")
    timeout = args.timeout * len(variants)
    returncode, _, _ = run_process([sys.executable, "-c", code], timeout, log_path)
    missing = [v for v in variants if not os.path.exists(os.path.join(v["folder"], "meta.json"))]
    if not missing:
        return None
    for v in missing:  # what export_zoo.py would clean up at its next run of this model; it may be gigabytes
        parent, leaf = os.path.split(v["folder"])
        if os.path.isdir(parent):
            for stale in os.listdir(parent):
                if stale.startswith(f".{leaf}."):
                    shutil.rmtree(os.path.join(parent, stale), ignore_errors=True)
    if returncode is None:
        return f"export timed out after {timeout:g} s"
    with open(log_path, errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    if returncode < 0:
        return f"export process killed by {signal.Signals(-returncode).name}"
    return "export process failed: " + (lines[-1] if lines else f"exit status {returncode}")[:1000]


def read_meta(folder):
    try:
        with open(os.path.join(folder, "meta.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def export_bytes(meta):
    return (meta.get("file_bytes") or 0) + (meta.get("external_data_bytes") or 0) if meta else 0


def needs_export(folder, force):
    """True when the folder holds no usable export: none yet, a pruned one, or --force."""
    meta = read_meta(folder)
    if meta is None:
        return True
    if meta.get("error"):
        return force
    return force or not os.path.exists(os.path.join(folder, "model.onnx"))


def largest_export(model_dir):
    """The size of the largest export of the model already there (pruned ones count), or None."""
    sizes = []
    if os.path.isdir(model_dir):
        for leaf in os.listdir(model_dir):
            size = export_bytes(read_meta(os.path.join(model_dir, leaf)))
            if size:
                sizes.append(size)
    return max(sizes) if sizes else None


def prune(folder, limit_mb):
    """Deletes model.onnx and weights.bin when together over limit_mb; leaves pruned.json saying so."""
    if limit_mb < 0:
        return False
    files = [f for f in ("model.onnx", "weights.bin") if os.path.exists(os.path.join(folder, f))]
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in files)
    if not files or size <= limit_mb * 2**20:
        return False
    marker = dict(files=files, bytes=size, limit_mb=limit_mb,
                  time=datetime.datetime.now().isoformat(timespec="seconds"),
                  note="deleted by zoo_coverage.py after testing; meta.json and test data are kept")
    with open(os.path.join(folder, PRUNE_MARKER), "w") as f:
        json.dump(marker, f, indent=1)
    for name in files:
        os.remove(os.path.join(folder, name))
    return True


# ---- matching --------------------------------------------------------------------------------------------------------

def finite_or_text(x):
    x = float(x)
    return x if x == x and abs(x) != float("inf") else str(x)


def compare_output(actual_path, expected_path):
    """One output against its reference: a dict with match, cause (on a mismatch), errors, degenerate."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    expected_proto = onnx.load_tensor(expected_path)
    expected = numpy_helper.to_array(expected_proto)
    record = dict(name=expected_proto.name, shape=list(expected.shape), dtype=str(expected.dtype),
                  degenerate=bool(expected.size == 0 or np.all(expected == expected.flat[0])))
    if not os.path.exists(actual_path):
        return dict(record, match=False, cause="allot wrote no such output")
    actual_proto = onnx.load_tensor(actual_path)
    actual = numpy_helper.to_array(actual_proto)
    if actual_proto.data_type != expected_proto.data_type:
        return dict(record, match=False, cause="dtype differs", detail=f"{actual.dtype}, expected {expected.dtype}")
    if actual.shape != expected.shape:
        return dict(record, match=False, cause="shape differs",
                    detail=f"{list(actual.shape)}, expected {list(expected.shape)}")
    if expected.size == 0:
        return dict(record, match=True, max_abs_error=0.0, rel_error=0.0)
    if np.issubdtype(expected.dtype, np.floating) or np.issubdtype(expected.dtype, np.complexfloating):
        e = expected.astype(np.complex128 if np.iscomplexobj(expected) else np.float64)
        a = actual.astype(e.dtype)
        same = (a == e) | (np.isnan(a) & np.isnan(e))  # equal infinities and NaN where PyTorch has NaN
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.where(same, 0.0, np.abs(a - e))
        diff = np.nan_to_num(diff, nan=np.inf, posinf=np.inf)
        magnitudes = np.abs(e[np.isfinite(e)])
        scale = max(float(magnitudes.max()) if magnitudes.size else 0.0, float(np.finfo(expected.dtype).tiny))
        max_abs = float(diff.max())
        rel = max_abs / scale
        record.update(max_abs_error=finite_or_text(max_abs), scale=scale, rel_error=finite_or_text(rel),
                      match=bool(rel <= TOLERANCE))
        if not record["match"]:
            record["cause"] = f"values differ by more than {TOLERANCE:g} of the output's scale"
        return record
    wrong = actual != expected
    mismatches = int(np.count_nonzero(wrong))
    if expected.dtype == np.bool_:
        max_abs, scale = float(mismatches > 0), 1.0
    else:
        max_abs = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
        scale = max(float(np.max(np.abs(expected.astype(np.float64)))), 1.0)
    record.update(max_abs_error=max_abs, scale=scale, rel_error=max_abs / scale, mismatches=mismatches,
                  match=mismatches == 0)
    if mismatches:
        record["cause"] = f"{'bool' if expected.dtype == np.bool_ else 'integer'} values differ"
    return record


def reorder_detections(data_dir, out_dir, names, window=8):
    """The permutation of allot's detections that matches PyTorch's, row for row, and each output's relative
    error under it; None when there is none.

    Detection outputs list detections sorted by score; two whose scores differ in the last bits (4e-8 apart is
    common) may come out in the other order from a different but equally correct float computation. Every output
    of a detection model has one row per detection, so rows are matched across all outputs at once: actual row j
    stands for expected row i when every output's row j is within the tolerance of row i (integers exactly),
    searching `window` rows around i."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    expected = [numpy_helper.to_array(onnx.load_tensor(os.path.join(data_dir, n))) for n in names]
    actual = [numpy_helper.to_array(onnx.load_tensor(os.path.join(out_dir, n))) for n in names]
    rows = expected[0].shape[0] if expected and expected[0].ndim else 0
    if any(e.shape != a.shape or e.ndim == 0 or e.shape[0] != rows for e, a in zip(expected, actual)):
        return None
    scales = [max(float(np.abs(e).max()) if e.size else 0.0, 1e-30) for e in expected]

    def same(i, j):
        for e, a, scale in zip(expected, actual, scales):
            if np.issubdtype(e.dtype, np.floating):
                if float(np.max(np.abs(e[i].astype(np.float64) - a[j]), initial=0.0)) > TOLERANCE * scale:
                    return False
            elif not np.array_equal(e[i], a[j]):
                return False
        return True

    used, permutation = set(), []
    for i in range(rows):
        j = next((j for j in range(max(0, i - window), min(rows, i + window + 1)) if j not in used and same(i, j)),
                 None)
        if j is None:
            return None
        used.add(j)
        permutation.append(j)
    # Each output's relative error once reordered.
    errors = [float(np.max(np.abs(e.astype(np.float64) - a[permutation]), initial=0.0)) / scale
              for e, a, scale in zip(expected, actual, scales)]
    return permutation, errors


def match_outputs(data_dir, out_dir, family=None):
    """Every reference output_K.pb against allot's; returns (records, error or None, cause or None, reordered).

    For detection models, detections whose scores tie to within float noise may come out in another order: if
    the outputs match once allot's detections are matched to PyTorch's row by row (reorder_detections), they
    match, and `reordered` counts the detections that moved."""
    expected = sorted((f for f in os.listdir(data_dir) if re.fullmatch(r"output_\d+\.pb", f)),
                      key=lambda f: int(f[7:-3]))
    actual = [f for f in os.listdir(out_dir) if re.fullmatch(r"output_\d+\.pb", f)] if os.path.isdir(out_dir) else []
    records = [compare_output(os.path.join(out_dir, f), os.path.join(data_dir, f)) for f in expected]
    if len(actual) != len(expected):
        return (records, f"allot wrote {len(actual)} outputs, the reference has {len(expected)}",
                "output count differs", 0)
    for k, record in enumerate(records):
        if not record["match"]:
            if family == "detection" and record.get("cause", "").startswith(("values differ", "integer values")):
                reordered = reorder_detections(data_dir, out_dir, expected)
                if reordered is not None:
                    permutation, errors = reordered
                    for r, error in zip(records, errors):
                        r.update(match=True, rel_error=error)
                        r.pop("cause", None)
                    return records, None, None, sum(1 for i, j in enumerate(permutation) if i != j)
            detail = record.get("detail") or f"relative error {float(record.get('rel_error', 'nan')):.3g}"
            return records, f"output_{k} '{record['name']}': {record['cause']} ({detail})", record["cause"], 0
    return records, None, None, 0


# ---- one model+variant -----------------------------------------------------------------------------------------------

def test_variant(args, allot, spec, variant, tmp):
    """Runs the steps on one exported model+variant; returns its coverage entry."""
    folder = variant["folder"]
    meta = read_meta(folder) or {}
    entry = dict(model=spec.name, family=FAMILY_NAMES.get(spec.family, spec.family), variant=variant["leaf"],
                 opset=variant["opset"], dynamic=variant["dynamic"], status="failed", failed_step=None,
                 error=None, cause=None, steps={step: "skipped" for step in STEPS}, warnings=[], seconds={},
                 allot=allot["sha256"], tested=datetime.datetime.now().isoformat(timespec="seconds"))

    def fail(step, error, cause=None):
        entry["steps"][step] = "failed"
        entry.update(failed_step=step, error=error, cause=cause or normalise(error))
        return entry

    error = variant.get("export_error") or meta.get("error")
    if error:
        return fail("export", error)
    entry["steps"]["export"] = "ok"
    entry.update(onnx_nodes=meta.get("nodes"), export_mb=round(export_bytes(meta) / 2**20, 1),
                 parameters=meta.get("parameters"))
    entry["seconds"]["export"] = meta.get("seconds")

    model = os.path.join(folder, "model.onnx")
    data_dir = os.path.join(folder, "test_data_set_0")
    placement = os.path.join(tmp, "placement.json")
    out_dir = os.path.join(tmp, "outputs")
    binding = ["--batch", "1"] if variant["dynamic"] else []
    commands = dict(
        inspect=[allot["binary"], "inspect", model, "--json"] + binding,
        place=[allot["binary"], "place", model, "--cluster", CLUSTER, "--placer", PLACER, "-o", placement,
               "--json"] + binding,
        run=[allot["binary"], "run", model, "--placement", placement, "--steps", "1", "--warmup", "0",
             "--inputs", data_dir, "--outputs", out_dir, "--json"] + binding)

    for step, command in (("import", "inspect"), ("place", "place"), ("run", "run")):
        start = time.time()
        returncode, stdout, stderr = run_process(commands[command], args.timeout)
        entry["seconds"][step] = round(time.time() - start, 3)
        for warning in stderr_warnings(stderr):
            if warning not in entry["warnings"]:
                entry["warnings"].append(warning)
        if returncode != 0:
            return fail(step, allot_error(returncode, stderr, args.timeout))
        try:
            result = json.loads(stdout)
        except ValueError:
            result = {}
        if step == "import":
            entry.update(nodes=result.get("nodes"), unknown_ops=result.get("unknown_ops"),
                         import_seconds=result.get("import_seconds"),
                         ran_shape_inference=result.get("ran_shape_inference"))
            entry["warnings"] = list(result.get("warnings") or []) + entry["warnings"]
        elif step == "place":
            devices = result.get("devices") or []
            entry.update(simulated_step_ms=result.get("step_time_ms"), placement_valid=result.get("valid"),
                         ops_per_device={d.get("device"): d.get("ops") for d in devices},
                         placed_transfers=result.get("transfers"))
        else:
            entry.update(run_step_ms=result.get("step_time_ms"), copies=result.get("copies"))
        entry["steps"][step] = "ok"

    start = time.time()
    try:
        records, error, cause, reordered = match_outputs(data_dir, out_dir, spec.family)
    except Exception as e:  # an unreadable output file is allot's failure to report, not this script's crash
        records, error, cause, reordered = [], f"cannot read the outputs: {type(e).__name__}: {e}", "unreadable output", 0
    entry["seconds"]["match"] = round(time.time() - start, 3)
    entry["outputs"] = records
    entry["reordered_detections"] = reordered
    errors = [r["rel_error"] for r in records if "rel_error" in r]
    entry["worst_rel_error"] = max(errors, key=lambda x: float(x)) if errors else None
    entry["degenerate"] = [r["name"] for r in records if r["degenerate"]]
    if error:
        fail("match", error, cause)
        entry["status"] = "mismatch"
        return entry
    entry["steps"]["match"] = "ok"
    entry["status"] = "matched"
    return entry


# ---- coverage.json ---------------------------------------------------------------------------------------------------

INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt


class DeferredInterrupts:
    """Holds Ctrl-C and SIGTERM back while coverage.json is replaced (os.replace is atomic; this keeps the
    temporary file from being left half-written). Ignored signals (nohup, background jobs) stay ignored."""

    def __enter__(self):
        self.received = False
        self.saved = {}
        for sig in INTERRUPTS:
            if signal.getsignal(sig) is not signal.SIG_IGN:
                self.saved[sig] = signal.signal(sig, lambda *_: setattr(self, "received", True))

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        if self.received:
            raise KeyboardInterrupt


def load_coverage(path):
    if not os.path.exists(path):
        return dict(format=FORMAT, version=1, allot_binaries={}, entries={})
    with open(path) as f:
        coverage = json.load(f)
    if coverage.get("format") != FORMAT:
        raise SystemExit(f"zoo_coverage: {path} is not a coverage file (format {coverage.get('format')!r})")
    return coverage


def save_coverage(path, coverage):
    coverage["updated"] = datetime.datetime.now().isoformat(timespec="seconds")
    coverage["entries"] = dict(sorted(coverage["entries"].items()))
    with DeferredInterrupts():
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(coverage, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


# ---- report ----------------------------------------------------------------------------------------------------------

# Numbers that stand alone or start a word ("3 dims", "1.5 s", "123MiB"); digits inside a name ("float16",
# "upsample_bilinear2d", "opset13") are part of what failed and stay.
NUMBER = re.compile(r"(?<![A-Za-z_\d.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
SHAPE = re.compile(r"(?<![A-Za-z_\d])\d+(?:x\d+)+\b")  # 27000x3


def normalise(message):
    """A failure's or warning's cause: the message without node and tensor names (quoted), paths, parenthesised
    examples, shapes and numbers, so that one cause groups together."""
    text = re.sub(r"\(e\.g\.[^()]*(?:\([^()]*\)[^()]*)*\)", "", message)
    text = re.sub(r"'[^']*'|\"[^\"]*\"|‘[^’]*’", "<name>", text)
    text = re.sub(r"(?<![\w.])(?:/[\w.+@-]+)+/?", "<path>", text)
    text = NUMBER.sub("N", SHAPE.sub("<shape>", text))
    text = re.sub(r"\bnode has\b", "nodes have", text)  # "1 If node has", "2 If nodes have"
    return " ".join(text.split()).rstrip(" ,;:")


def variant_key(variant):
    m = re.fullmatch(r"opset(\d+)(.*)", variant)
    return (1 if m and m.group(2) else 0, int(m.group(1)) if m else 0, variant)


def pct(n, d):
    return f"{100.0 * n / d:.1f}%" if d else "-"


def code(text):
    return "`" + text.replace("`", "'") + "`"


def models_by_name(entries):
    """'model (v1, v2)' for each model, in name order."""
    by_model = collections.defaultdict(list)
    for e in entries:
        by_model[e["model"]].append(e["variant"])
    return [f"{m} ({', '.join(sorted(vs, key=variant_key))})" for m, vs in sorted(by_model.items())]


def report(coverage):
    entries = list(coverage["entries"].values())
    lines = ["# allot zoo coverage", ""]
    binaries = coverage.get("allot_binaries", {})
    used = collections.Counter(e.get("allot") for e in entries)
    for sha, n in used.most_common():
        b = binaries.get(sha, {})
        lines.append(f"allot {sha} (built {b.get('built', '?')}, git {b.get('git') or '?'}): {n} model+variants")
    lines += ["", f"{len({e['model'] for e in entries})} models, {len(entries)} model+variants; cluster "
              f"{CLUSTER}, placer {PLACER}; match: max|actual - expected| <= {TOLERANCE:g} x the output's max "
              f"|expected| (integers exactly).", ""]
    if not entries:
        return "\n".join(lines + ["No entry yet."]) + "\n"

    ok = lambda e, step: e["steps"].get(step) == "ok"
    stages = [("exports attempted", lambda e: True), ("exported", lambda e: ok(e, "export")),
              ("imported", lambda e: ok(e, "import")),
              ("imported + placed", lambda e: ok(e, "import") and ok(e, "place")),
              ("ran", lambda e: ok(e, "run")), ("matched", lambda e: ok(e, "match"))]
    attempted = len(entries)
    exported = sum(ok(e, "export") for e in entries)
    lines += ["## Totals", "", "| | model+variants | of exported | of attempted |", "|---|---:|---:|---:|"]
    for name, test in stages:
        n = sum(bool(test(e)) for e in entries)
        lines.append(f"| {name} | {n} | {'' if name == 'exports attempted' else pct(n, exported)} | "
                     f"{pct(n, attempted)} |")
    both = sum(1 for e in entries if ok(e, "place") and sum(1 for n in (e.get("ops_per_device") or {}).values()
                                                             if n) >= 2)
    placed = sum(ok(e, "place") for e in entries)
    degenerate_matched = [e for e in entries if ok(e, "match") and e.get("degenerate")]
    single = [e for e in entries if ok(e, "place") and sum(1 for n in (e.get("ops_per_device") or {}).values()
                                                           if n) < 2]
    lines += ["", f"Placements using both devices (so that the run copied tensors between them): {both} of {placed}"
              + (f"; on one device: {'; '.join(models_by_name(single))}." if single else ".")
              + f" Matched with a degenerate reference output (all elements equal, or empty): "
              f"{len(degenerate_matched)}.", ""]
    reordered = [e for e in entries if ok(e, "match") and e.get("reordered_detections")]
    if reordered:
        lines += ["Detection outputs matched once near-tied detections (scores within float noise) were paired row "
                  "by row: " + "; ".join(f"{e['model']} {e['variant']} ({e['reordered_detections']} moved)"
                                         for e in reordered) + ".", ""]

    variants = sorted({e["variant"] for e in entries}, key=variant_key)
    families = [f for f in FAMILIES if any(e["family"] == f for e in entries)]
    families += sorted({e["family"] for e in entries} - set(families))

    def cell(selected):
        if not selected:
            return "—"
        counts = [sum(ok(e, s) for e in selected) for s in ("match", "run", "place", "export")]
        return "/".join(map(str, counts))

    lines += ["## By family and variant", "", "matched/ran/placed/exported (placed: imported and placed)", "",
              "| family | " + " | ".join(variants) + " | all |", "|---" + "|---:" * (len(variants) + 1) + "|"]
    for family in families + ["all"]:
        row = [e for e in entries if family == "all" or e["family"] == family]
        cells = [cell([e for e in row if e["variant"] == v]) for v in variants] + [cell(row)]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    lines.append("")

    failures = [e for e in entries if e.get("failed_step")]
    lines += ["## Failures by cause", ""]
    if not failures:
        lines += ["None.", ""]
    groups = collections.defaultdict(list)
    for e in failures:
        # Normalised now rather than when tested, so that older entries group with newer ones.
        cause = e.get("cause") if e["failed_step"] == "match" else normalise(e.get("error") or "")
        groups[(e["failed_step"], cause)].append(e)
    order = sorted(groups.items(), key=lambda kv: (-len(kv[1]), STEPS.index(kv[0][0]), kv[0][1]))
    for (step, cause), group in order:
        example = group[0].get("error") or ""
        lines.append(f"- **{step}**, {len(group)} model+variant{'s' if len(group) > 1 else ''}: {code(cause)}")
        if example and example != cause:
            lines.append(f"  (e.g. {code(example[:300])})")
        lines.append("  " + "; ".join(models_by_name(group)))
    if failures:
        lines.append("")

    warnings = collections.defaultdict(list)
    for e in entries:
        for w in {normalise(w) for w in e.get("warnings") or []}:
            warnings[w].append(e)
    lines += ["## Warnings", ""]
    if not warnings:
        lines += ["None.", ""]
    else:
        lines += ["| warning | model+variants | models |", "|---|---:|---|"]
        for w, group in sorted(warnings.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            names = sorted({e["model"] for e in group})
            shown = ", ".join(names[:8]) + (f", and {len(names) - 8} more" if len(names) > 8 else "")
            lines.append(f"| {code(w)} | {len(group)} | {shown} |")
        lines.append("")

    degenerate = [e for e in entries if e.get("degenerate")]
    if degenerate:
        lines += ["## Degenerate reference outputs", "",
                  "Every element equal (or none): such an output tests little.", ""]
        by_outputs = collections.defaultdict(list)
        for e in degenerate:
            by_outputs[(e["model"], ", ".join(e["degenerate"]))].append(e)
        for (model, outputs), group in sorted(by_outputs.items()):
            lines.append(f"- {models_by_name(group)[0]}: {outputs}")
        lines.append("")

    close = sorted((e for e in entries if ok(e, "match") and isinstance(e.get("worst_rel_error"), float)),
                   key=lambda e: -e["worst_rel_error"])[:5]
    if close:
        lines += ["## Largest relative errors among the matches", "",
                  ", ".join(f"{e['model']} {e['variant']} {e['worst_rel_error']:.2g}" for e in close), ""]
    return "\n".join(lines)


# ---- main ------------------------------------------------------------------------------------------------------------

def select(parser, args):
    """The selected specs and, for each, its variants as export_zoo.py names them."""
    sys.path.insert(0, MODELS_DIR)
    import export_zoo

    models = export_zoo.registry()
    patterns = [p.strip() for p in args.models.split(",") if p.strip()]
    unmatched = [p for p in patterns if not fnmatch.filter(models, p)]
    if unmatched:
        parser.error(f"no model matches {', '.join(unmatched)} (export_zoo.py --list shows them)")
    try:
        opsets = sorted({int(k) for k in args.opsets.split(",") if k.strip()})
    except ValueError:
        parser.error(f"--opsets takes comma-separated integers, not {args.opsets!r}")
    if not all(7 <= k <= 17 for k in opsets):
        parser.error("--opsets must name opsets between 7 and 17 (what torch 1.13 exports)")
    selected = []
    for name, spec in models.items():
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        variants = [dict(opset=k, dynamic=False, leaf=f"opset{k}") for k in opsets]
        if not args.no_dynbatch and spec.dynbatch:
            k = export_zoo.DYNBATCH_OPSET
            variants.append(dict(opset=k, dynamic=True, leaf=f"opset{k}_dynbatch"))
        for v in variants:
            v["folder"] = os.path.join(args.out, name, v["leaf"])
        selected.append((spec, variants))
    return selected


def wanted(entry, args):
    if entry is None or args.retest:
        return True
    return args.retest_failed and entry.get("status") != "matched"


def progress(index, total, entry, seconds):
    head = f"[{index}/{total}] {entry['model']} {entry['variant']}"
    if entry["status"] == "matched":
        worst = entry.get("worst_rel_error")
        worst = f"{worst:.2g}" if isinstance(worst, float) else str(worst)
        tail = f"matched ({entry.get('nodes')} nodes), worst relative error {worst}"
        if entry.get("degenerate"):
            tail += f", degenerate reference: {', '.join(entry['degenerate'])}"
    else:
        tail = f"FAILED at {entry['failed_step']}: {entry['error']}"
    print(f"{head}: {tail}, {seconds:.1f} s", flush=True)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="the zoo's directory (export_zoo.py's --out); coverage.json "
                                                     "is written there")
    parser.add_argument("--models", default="*", help="comma-separated names or fnmatch patterns, as export_zoo.py "
                                                      "(default: all)")
    parser.add_argument("--opsets", default="11,13,14,17", help="opsets of the static exports (default 11,13,14,17)")
    parser.add_argument("--no-dynbatch", action="store_true", help="skip the opset-14 dynamic-batch variant")
    parser.add_argument("--seed", type=int, default=1, help="export_zoo.py's seed of weights and inputs (default 1)")
    parser.add_argument("--force", action="store_true",
                        help="re-export the model+variants tested in this run (export_zoo.py --force); export "
                             "failures are otherwise kept")
    parser.add_argument("--allot", default=os.path.join(REPO, "build", "allot"),
                        help="the allot binary (default: <repo>/build/allot)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds allowed to each step of a model+variant (default 900; an export child "
                             "gets this per variant it exports)")
    parser.add_argument("--retest", action="store_true", help="test again model+variants already in coverage.json")
    parser.add_argument("--retest-failed", action="store_true",
                        help="test again those in coverage.json that did not match (model+variants not in it yet "
                             "are tested either way: narrow the run with --models)")
    parser.add_argument("--prune-mb", type=float, default=300,
                        help="after testing, delete model.onnx and weights.bin when over this many MB (meta.json, "
                             "test data and pruned.json stay; default 300; negative: keep every export)")
    parser.add_argument("--report", action="store_true", help="print the markdown report at the end")
    parser.add_argument("--report-only", action="store_true",
                        help="test nothing: print the report of what coverage.json holds")
    parser.add_argument("--write-markdown", metavar="FILE", help="write the markdown report to FILE")
    args = parser.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    coverage_path = os.path.join(args.out, COVERAGE_FILE)
    coverage = load_coverage(coverage_path)
    status = 0
    if not args.report_only:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
            signal.signal(signal.SIGTERM, raise_interrupt)  # stops as Ctrl-C does: the child too, files consistent
        try:
            status = test_all(parser, args, coverage, coverage_path)
        except KeyboardInterrupt:
            print(f"\ninterrupted: {coverage_path} holds {len(coverage['entries'])} entries; run again to resume",
                  flush=True)
            return 130
    if args.report or args.report_only or args.write_markdown:
        text = report(coverage)
        if args.report or args.report_only:
            print(text)
        if args.write_markdown:
            tmp = args.write_markdown + ".tmp"
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, args.write_markdown)
    return status


def test_all(parser, args, coverage, coverage_path):
    selected = select(parser, args)
    todo = [(spec, v) for spec, variants in selected for v in variants
            if wanted(coverage["entries"].get(f"{spec.name}/{v['leaf']}"), args)]
    count = sum(len(variants) for _, variants in selected)
    print(f"{len(selected)} models, {count} model+variants selected; {len(todo)} to test, {count - len(todo)} "
          f"skipped (tested before, in {coverage_path})", flush=True)
    if not todo:
        return 0
    tmp_root = tempfile.mkdtemp(prefix="zoo_coverage.")
    try:
        binary, allot = snapshot_allot(args.allot, tmp_root)
        allot["binary"] = binary
        coverage.setdefault("allot_binaries", {})[allot["sha256"]] = {k: v for k, v in allot.items()
                                                                      if k != "binary"}
        by_model = collections.OrderedDict()
        for spec, v in todo:
            by_model.setdefault(spec.name, (spec, []))[1].append(v)
        index = 0
        exported = set()  # folders this run exported (or tried to): each is exported at most once
        for spec, variants in by_model.values():
            for k, variant in enumerate(variants):
                index += 1
                start = time.time()
                work = tempfile.mkdtemp(dir=tmp_root)
                try:
                    redo = lambda v: v["folder"] not in exported and needs_export(v["folder"], args.force)
                    if redo(variant):
                        # The rest of this model's variants in one export (the model is built once), unless its
                        # exports get pruned: then one at a time, each deleted before the next is written.
                        size = largest_export(os.path.join(args.out, spec.name))
                        big = args.prune_mb >= 0 and (size is None or size > args.prune_mb * 2**20)
                        batch = [variant] if big else [v for v in variants[k:] if redo(v)]
                        error = export_variants(args, spec, batch, work)
                        for v in batch:
                            exported.add(v["folder"])
                            if not os.path.exists(os.path.join(v["folder"], "meta.json")):
                                v["export_error"] = error
                    entry = test_variant(args, allot, spec, variant, work)
                    entry["seconds"]["total"] = round(time.time() - start, 3)
                    if os.path.isdir(variant["folder"]) and prune(variant["folder"], args.prune_mb):
                        entry["pruned"] = True
                    coverage["entries"][f"{spec.name}/{variant['leaf']}"] = entry
                    save_coverage(coverage_path, coverage)
                    progress(index, len(todo), entry, time.time() - start)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
