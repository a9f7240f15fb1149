#!/usr/bin/python3
"""Export the real-model coverage set for allot's importer: every classification, segmentation and detection model
torchvision lists, and PyTorch's own sequence modules, each at several opsets, with one test case each.

Why: export_torch.py exports the handful of models the benchmarks use. The importer has to take whatever users
export, and what an exporter emits changes with the model family (CNNs, vision transformers, segmentation heads,
detection post-processing with NonMaxSuppression, RoiAlign, Loop and If), with the opset (opset 13 moved Split's
and Squeeze's sizes from attributes to inputs, opset 14 added Trilu, opset 17 LayerNormalization), and with
dynamic axes (symbolic dims that allot binds with --batch). This script produces that matrix; allot's tests and
benchmarks read whatever subset of it is present.

Layout (the libonnx-testdata one, as export_torch.py writes it, one level deeper for the opset):
    OUT/NAME/opsetK/model.onnx                       static shapes, K in --opsets (default 11, 13, 14, 17)
    OUT/NAME/opsetK/weights.bin                      only for models over protobuf's 2 GB limit (external data)
    OUT/NAME/opsetK/test_data_set_0/input_J.pb       one per graph input, a serialized TensorProto
    OUT/NAME/opsetK/test_data_set_0/output_J.pb      PyTorch's eval-mode output, one per graph output
    OUT/NAME/opsetK/meta.json                        what was exported, how big, how long it took, or the error
    OUT/NAME/opset14_dynbatch/...                    the same at opset 14 with dim 0 of every input and output
                                                     named "batch" (test data at batch 1: allot --batch 1)
A failed export leaves only meta.json, with "error" set; a folder with a meta.json is never redone unless --force,
so an interrupted run resumes where it stopped.

Run with Debian's interpreter, which has torch and torchvision:
    /usr/bin/python3 models/export_zoo.py --out out/zoo --models 'resnet*,vit_b_16' --opsets 14
    /usr/bin/python3 models/export_zoo.py --list

All models are built with weights=None (random init, seeded by --seed; no download is ever attempted, so the
backbones' weights_backbone is None too) and exported from eval mode with do_constant_folding=True. Input sizes:
classifiers at their natural resolution (natural_size()), segmentation at 224 px, detection at 320 px (SSD300 at
300); the sequence models at batch 1 and Transformer-base's widths. Detection models have no dynbatch export.
"""

import argparse
import contextlib
import fnmatch
import inspect
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torch import (LSTM_SEQ, TRANSFORMER_SEQ, LstmLanguageModel,  # noqa: E402
                          make_parameters_distinct, save_tensor, transformer_encoder)

DEFAULT_OPSETS = (11, 13, 14, 17)
DYNBATCH_OPSET = 14
# protobuf cannot serialize a message over 2 GiB: larger models must keep their weights outside model.onnx.
PROTOBUF_LIMIT = 2**31
EXTERNAL_DATA_FILE = "weights.bin"


# ---- model definitions --------------------------------------------------------------------------------------------

class SelfAttention(nn.Module):
    """nn.MultiheadAttention as self-attention; the averaged attention weights are not a model output anyone
    uses, and asking for them (need_weights) adds a ReduceMean branch to the graph."""

    def __init__(self, d_model=512, heads=8):
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, heads, batch_first=True)

    def forward(self, x):
        return self.attention(x, x, x, need_weights=False)[0]


class CausalDecoder(nn.Module):
    """nn.TransformerDecoder as a decoder is used: with a causal mask on the target (a constant in the graph)."""

    def __init__(self, d_model=512, heads=8, layers=6, seq=TRANSFORMER_SEQ):
        super().__init__()
        layer = nn.TransformerDecoderLayer(d_model, heads, dim_feedforward=4 * d_model, batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers=layers)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq), persistent=False)

    def forward(self, tgt, memory):
        return self.decoder(tgt, memory, tgt_mask=self.mask[: tgt.shape[1], : tgt.shape[1]])


class CausalTransformer(nn.Module):
    """nn.Transformer (Transformer-base: 6 + 6 layers, d_model 512, 8 heads) with a causal target mask."""

    def __init__(self, d_model=512, heads=8, layers=6, seq=TRANSFORMER_SEQ):
        super().__init__()
        self.transformer = nn.Transformer(d_model, heads, num_encoder_layers=layers, num_decoder_layers=layers,
                                          dim_feedforward=4 * d_model, batch_first=True)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq), persistent=False)

    def forward(self, src, tgt):
        return self.transformer(src, tgt, tgt_mask=self.mask[: tgt.shape[1], : tgt.shape[1]])


class SegmentationOutput(nn.Module):
    """torchvision's segmentation models return a dict; the exported graph's output is its "out" tensor."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


class DetectionOutputs(nn.Module):
    """Detection models take a list of images and return one dict per image. The graph takes a batch-1 tensor
    and returns the first image's tensors in the dict's order; their names are the dict's keys (output_names,
    known after the first forward)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.output_names = None

    def forward(self, x):
        detections = self.model(list(x.unbind(0)))[0]
        self.output_names = list(detections.keys())
        return tuple(detections.values())


# ---- registry -------------------------------------------------------------------------------------------------------

class Spec:
    """One model: how to build it, its example inputs (a tuple, batch 1) and their names, and whether dim 0 of its
    inputs and outputs is a batch (the dynbatch export names it)."""

    def __init__(self, name, family, build, make_inputs, input_names=("input",), dynbatch=True):
        self.name, self.family, self.build, self.make_inputs = name, family, build, make_inputs
        self.input_names, self.dynbatch = list(input_names), dynbatch


def images(size):
    return lambda: (torch.randn(1, 3, size, size),)


def natural_size(name):
    """The smallest crop size among the model's published weights: the resolution the architecture was trained
    at (EfficientNet-B7: 600, Swin-V2: 256, Inception-V3: 299), not the larger fine-tuning sizes of the SWAG
    weights (ViT-H/14 at 518). It is also the size a weights=None ViT is built for (224)."""
    weights = torchvision.models.get_model_weights(name)
    return min(w.transforms.keywords.get("crop_size", 224) for w in weights)


CLASSIFIER_KWARGS = {
    # The auxiliary classifiers only run in training mode, and init_weights=False skips a slow scipy-based
    # truncated-normal init (the weights are random either way).
    "inception_v3": dict(aux_logits=False, init_weights=False),
    "googlenet": dict(aux_logits=False, init_weights=False),
}

SEGMENTATION_SIZE = 224  # the weights' 520 px would make the CPU exports several times slower for the same graph
DETECTION_SIZE = 320
# Detection models resize their input: R-CNNs, RetinaNet and FCOS to 800 px by default (6x the work of 320 px).
# Pinning min_size/max_size to the input's size keeps the graph working at the size it is given. SSD's resize is
# part of its architecture (300 or 320) and is kept.
DETECTION_KWARGS = dict(min_size=DETECTION_SIZE, max_size=DETECTION_SIZE)
# Random weights score every class near 1 / num_classes, below the default thresholds (0.05; FCOS 0.2), so the
# reference output would hold no detection at all. SSD's 0.01 lets enough through.
SCORE_THRESHOLD_KWARGS = {"fasterrcnn": "box_score_thresh", "maskrcnn": "box_score_thresh",
                          "keypointrcnn": "box_score_thresh", "retinanet": "score_thresh", "fcos": "score_thresh"}


def classifier(name):
    return Spec(name, "classification",
                lambda: torchvision.models.get_model(name, weights=None, **CLASSIFIER_KWARGS.get(name, {})),
                images(natural_size(name)))


def segmentation(name):
    def build():
        builder = getattr(torchvision.models.segmentation, name)
        kwargs = dict(weights=None, weights_backbone=None)
        if "aux_loss" in inspect.signature(builder).parameters:
            kwargs["aux_loss"] = False  # the auxiliary head is a training-time loss only
        return SegmentationOutput(builder(**kwargs))

    return Spec(name, "segmentation", build, images(SEGMENTATION_SIZE))


def detection(name):
    def build():
        kwargs = dict(weights=None, weights_backbone=None)
        if not name.startswith("ssd"):
            kwargs.update(DETECTION_KWARGS)
        threshold = SCORE_THRESHOLD_KWARGS.get(name.split("_")[0])
        if threshold:
            kwargs[threshold] = 0.0
        return DetectionOutputs(getattr(torchvision.models.detection, name)(**kwargs))

    # No dynbatch: the graph unbinds exactly one image, and its outputs' dim 0 counts detections, not images.
    size = 300 if name.startswith("ssd300") else DETECTION_SIZE  # SSD300 would resize 320 px down to 300
    return Spec(name, "detection", build, images(size), dynbatch=False)


TGT_SEQ = 48  # shorter than the source, so that the graphs do not get to assume one sequence length


def sequence_models():
    tokens = lambda: (torch.randint(0, 10000, (1, LSTM_SEQ), dtype=torch.long),)
    return [
        Spec("transformer_encoder", "nn", transformer_encoder, lambda: (torch.randn(1, TRANSFORMER_SEQ, 512),)),
        Spec("transformer_decoder", "nn", CausalDecoder,
             lambda: (torch.randn(1, TGT_SEQ, 512), torch.randn(1, TRANSFORMER_SEQ, 512)), ("tgt", "memory")),
        Spec("transformer", "nn", CausalTransformer,
             lambda: (torch.randn(1, TRANSFORMER_SEQ, 512), torch.randn(1, TGT_SEQ, 512)), ("src", "tgt")),
        Spec("multihead_attention", "nn", SelfAttention, lambda: (torch.randn(1, TRANSFORMER_SEQ, 512),)),
        Spec("lstm_lm", "nn", LstmLanguageModel, tokens, ("tokens",)),
        Spec("gru_lm", "nn", lambda: LstmLanguageModel(cell=nn.GRU), tokens, ("tokens",)),
    ]


def registry():
    models = torchvision.models
    specs = [classifier(n) for n in models.list_models(module=models)]
    specs += [segmentation(n) for n in models.list_models(module=models.segmentation)]
    specs += [detection(n) for n in models.list_models(module=models.detection)]
    specs += sequence_models()
    return {spec.name: spec for spec in specs}


@contextlib.contextmanager
def no_init():
    """Makes torch.nn.init's functions no-ops, for --list: counting ViT-H/14's 632 M parameters should not cost
    the 13 s its random init takes."""
    saved = {}
    for name, fn in vars(nn.init).items():
        if callable(fn) and name.endswith("_") and not name.startswith("_"):
            saved[name] = fn
            setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(nn.init, name, fn)


# ---- export -----------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def output_to(path):
    """Sends this process's stdout and stderr (file descriptors, so the exporter's C++ warnings too) to a file,
    which keeps the progress output one line per export."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "wb") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def flatten(outputs):
    return list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]


def graph_shape(value_info):
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in dims]


def count_nodes(graph):
    """Nodes of the graph and of every subgraph (If branches, Loop bodies) below it."""
    import onnx

    total = 0
    for node in graph.node:
        total += 1
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                total += count_nodes(attribute.g)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                total += sum(count_nodes(g) for g in attribute.graphs)
    return total


def error_line(e):
    """The line a traceback ends with, "Type: message", cut to the message's first line: the exporter's
    multi-line messages say what failed first and then dump TorchScript graph excerpts."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    first = lines[0].split("  [Caused by")[0] if lines else ""
    return f"{type(e).__name__}: {first}"[:500]


def export_one(spec, model, inputs, expected, output_names, opset, dynamic, folder):
    """Exports into folder (which must not exist yet), test data and meta.json included. Raises on failure."""
    import onnx

    data_dir = os.path.join(folder, "test_data_set_0")
    raw_dir = os.path.join(folder, "raw")  # the exporter's own output, before its weights are gathered
    os.makedirs(data_dir)
    os.makedirs(raw_dir)
    raw_path = os.path.join(raw_dir, "model.onnx")
    model_path = os.path.join(folder, "model.onnx")
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {name: {0: "batch"} for name in spec.input_names + output_names}

    start = time.time()
    with output_to(os.path.join(folder, "export.log")):
        # Exported with autograd on: under no_grad, eval-mode nn.TransformerEncoderLayer (and nn.MultiheadAttention)
        # take their fused "fast path" (aten::_transformer_encoder_layer_fwd, aten::_native_multi_head_attention),
        # which has no ONNX export.
        torch.onnx.export(model, tuple(inputs), raw_path, opset_version=opset, input_names=spec.input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
    export_seconds = time.time() - start

    # Over 2 GB, torch 1.13 writes every initializer to its own file named after the tensor (hundreds of files
    # with names like "onnx::MatMul_4321"); one weights.bin is what other tools write and what is easy to move.
    raw = onnx.load(raw_path, load_external_data=False)
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in raw.graph.initializer)
    if external:
        del raw
        full = onnx.load(raw_path)  # reads the per-tensor files
        onnx.save_model(full, model_path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=EXTERNAL_DATA_FILE, size_threshold=1024)
        del full
    else:
        os.replace(raw_path, model_path)
    shutil.rmtree(raw_dir)
    onnx.checker.check_model(model_path)  # a path, not a proto: works for external data too
    seconds = time.time() - start

    # The names in the test data are the graph's own, as in libonnx-testdata.
    graph = onnx.load(model_path, load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}
    graph_inputs = [i for i in graph.input if i.name not in initializers]
    if len(graph_inputs) != len(inputs) or len(graph.output) != len(expected):
        raise RuntimeError(f"the graph has {len(graph_inputs)} inputs and {len(graph.output)} outputs, "
                           f"PyTorch {len(inputs)} and {len(expected)}")
    for k, (tensor, info) in enumerate(zip(inputs, graph_inputs)):
        save_tensor(tensor, os.path.join(data_dir, f"input_{k}.pb"), info.name)
    for k, (tensor, info) in enumerate(zip(expected, graph.output)):
        save_tensor(tensor, os.path.join(data_dir, f"output_{k}.pb"), info.name)

    log_path = os.path.join(folder, "export.log")
    if os.path.getsize(log_path) == 0:
        os.remove(log_path)
    weights_path = os.path.join(folder, EXTERNAL_DATA_FILE)
    describe = lambda tensor, info: dict(name=info.name, shape=list(tensor.shape), graph_shape=graph_shape(info),
                                         dtype=str(tensor.dtype).replace("torch.", ""))
    outputs = [describe(t, i) for t, i in zip(expected, graph.output)]
    return dict(
        inputs=[describe(t, i) for t, i in zip(inputs, graph_inputs)],
        output=outputs[0], outputs=outputs,
        nodes=len(graph.node), nodes_with_subgraphs=count_nodes(graph), initializers=len(graph.initializer),
        file_bytes=os.path.getsize(model_path),
        external_data_bytes=os.path.getsize(weights_path) if external else 0,
        export_seconds=round(export_seconds, 3), seconds=round(seconds, 3))


def pending_exports(spec, out_dir, opsets, dynbatch, force):
    """(opset, dynamic, folder) for each export of spec still to do."""
    wanted = [(opset, False, f"opset{opset}") for opset in opsets]
    if dynbatch and spec.dynbatch:
        wanted.append((DYNBATCH_OPSET, True, f"opset{DYNBATCH_OPSET}_dynbatch"))
    pending = []
    for opset, dynamic, leaf in wanted:
        folder = os.path.join(out_dir, spec.name, leaf)
        if force or not os.path.exists(os.path.join(folder, "meta.json")):
            pending.append((opset, dynamic, folder))
        else:
            with open(os.path.join(folder, "meta.json")) as f:
                error = json.load(f).get("error")
            print(f"{spec.name} {leaf}: {'failed' if error else 'done'} before, skipped"
                  f"{': ' + error if error else ''}", flush=True)
    return pending


def write_meta(folder, meta):
    """Replaces folder (if any) by a fresh one holding meta.json; a failed export leaves only that."""
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, "meta.json.tmp")
    text = json.dumps(meta, indent=1)
    text = re.sub(r"\[[^\[\]{}]*\]", lambda m: " ".join(m.group(0).split()), text)  # shapes on one line
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, os.path.join(folder, "meta.json"))


def randomize_zero_weights(model):
    """Gives zero-initialised weight matrices small random values.

    Some architectures start a layer at zero (ViT's classification head, Swin's relative-position tables): with
    weights=None their output is then constant, and comparing allot's runtime against it would test nothing."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2 and not p.any():
                p.normal_(0.0, 0.02)


def calibrate_batch_norm(model, make_inputs):
    """Sets every BatchNorm's running statistics to those of its input on one random example, as a trained
    model's fit its data.

    A fresh BatchNorm (mean 0, variance 1) normalises nothing: through a deep random network the activations die
    out or blow up, and a detection head then sees constant features and scores every anchor alike, so which tied
    box NMS keeps is the implementation's choice, not the model's. A hook sets each BatchNorm's statistics just
    before it runs, in eval mode (training mode would need batches of more than one value per channel, and
    detection models refuse it without targets)."""
    def set_statistics(module, inputs):
        x = inputs[0]
        if x.dim() < 2 or x.numel() // x.shape[1] < 2:
            return
        dims = [0] + list(range(2, x.dim()))
        module.running_mean.copy_(x.mean(dims))
        module.running_var.copy_(x.var(dims, unbiased=False))

    hooks = [m.register_forward_pre_hook(set_statistics) for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not hooks:
        return
    with torch.no_grad():
        model(*make_inputs())
    for h in hooks:
        h.remove()


def export_model(spec, out_dir, opsets, dynbatch, seed, force):
    """Exports spec at every pending opset; returns the number of failed exports."""
    pending = pending_exports(spec, out_dir, opsets, dynbatch, force)
    if not pending:
        return 0
    torch.manual_seed(seed)  # weights and inputs both follow from the seed
    start = time.time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = spec.build().eval()
        make_parameters_distinct(model)
        randomize_zero_weights(model)
        inputs = spec.make_inputs()
        calibrate_batch_norm(model, spec.make_inputs)
        with torch.no_grad():
            expected = flatten(model(*inputs))
        output_names = getattr(model, "output_names", None) or (
            ["output"] if len(expected) == 1 else [f"output_{k}" for k in range(len(expected))])
        setup_error = None
    except Exception as e:  # recorded for every pending export of the model
        setup_error = e
    build_seconds = time.time() - start

    failures = 0
    for opset, dynamic, folder in pending:
        leaf = os.path.basename(folder)
        meta = dict(model=spec.name, family=spec.family, opset=opset, dynamic=dynamic, seed=seed,
                    torch=torch.__version__, torchvision=torchvision.__version__)
        parent = os.path.dirname(folder)
        os.makedirs(parent, exist_ok=True)
        for stale in os.listdir(parent):  # left by an interrupted run (one run per OUT at a time)
            if stale.startswith(f".{leaf}."):
                shutil.rmtree(os.path.join(parent, stale), ignore_errors=True)
        work = tempfile.mkdtemp(prefix=f".{leaf}.", dir=parent)
        try:
            if setup_error is not None:
                raise setup_error
            meta["parameters"] = sum(p.numel() for p in model.parameters())
            meta["build_seconds"] = round(build_seconds, 3)
            staged = os.path.join(work, leaf)
            meta.update(export_one(spec, model, inputs, expected, output_names, opset, dynamic, staged))
            write_meta(staged, meta)
            if os.path.exists(folder):
                shutil.rmtree(folder)
            os.replace(staged, folder)
            size_mb = (meta["file_bytes"] + meta["external_data_bytes"]) / 2**20
            print(f"{spec.name} {leaf}: {meta['nodes']} nodes, {size_mb:.1f} MB"
                  f"{' (external data)' if meta['external_data_bytes'] else ''}, {meta['seconds']:.1f} s",
                  flush=True)
        except Exception as e:
            failures += 1
            meta["error"] = error_line(e)
            meta["error_full"] = str(e)[-4000:]
            if os.path.exists(folder):
                shutil.rmtree(folder)
            write_meta(folder, meta)
            log = os.path.join(work, leaf, "export.log")
            if os.path.exists(log) and os.path.getsize(log):
                shutil.copy(log, folder)  # the exporter's warnings often say more than its exception
            print(f"{spec.name} {leaf}: FAILED: {meta['error']}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return failures


def list_models(specs):
    total = 0
    for spec in specs:
        try:
            torch.manual_seed(0)
            with no_init(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = spec.build()
            params = sum(p.numel() for p in model.parameters())
            del model
        except Exception as e:
            print(f"{spec.name:40s} {spec.family:15s} cannot build: {error_line(e)}", flush=True)
            continue
        shapes = " ".join("x".join(map(str, t.shape)) for t in spec.make_inputs())
        large = "  > 2 GB: external data" if 4 * params >= PROTOBUF_LIMIT else ""
        print(f"{spec.name:40s} {spec.family:15s} {params:>13,d} parameters  input {shapes}{large}", flush=True)
        total += 1
    print(f"{total} models")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="output directory (required unless --list)")
    parser.add_argument("--models", default="*",
                        help="comma-separated names or fnmatch patterns, e.g. 'resnet*,vit_b_16' (default: all)")
    parser.add_argument("--opsets", default=",".join(map(str, DEFAULT_OPSETS)),
                        help="comma-separated opsets of the static exports (default 11,13,14,17; torch 1.13 "
                             "exports 7 to 17)")
    parser.add_argument("--no-dynbatch", action="store_true",
                        help=f"skip the opset-{DYNBATCH_OPSET} export with a dynamic batch axis")
    parser.add_argument("--seed", type=int, default=1, help="seed of weights and test inputs (default 1)")
    parser.add_argument("--force", action="store_true", help="redo exports that already have a meta.json")
    parser.add_argument("--list", action="store_true", help="print the selected models and their parameter "
                                                            "counts, and export nothing")
    args = parser.parse_args(argv)

    models = registry()
    patterns = [p.strip() for p in args.models.split(",") if p.strip()]
    unmatched = [p for p in patterns if not fnmatch.filter(models, p)]
    if unmatched:
        parser.error(f"no model matches {', '.join(unmatched)} (--list shows them)")
    specs = [spec for name, spec in models.items() if any(fnmatch.fnmatchcase(name, p) for p in patterns)]
    if args.list:
        list_models(specs)
        return 0
    if not args.out:
        parser.error("--out is required")
    try:
        opsets = sorted({int(k) for k in args.opsets.split(",") if k.strip()})
    except ValueError:
        parser.error(f"--opsets takes comma-separated integers, not {args.opsets!r}")
    if not opsets or not all(7 <= k <= 17 for k in opsets):
        parser.error("--opsets must name opsets between 7 and 17 (what torch 1.13 exports)")

    failures = 0
    for spec in specs:
        failures += export_model(spec, args.out, opsets, not args.no_dynbatch, args.seed, args.force)
    print(f"{len(specs)} models, {failures} failed exports")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
