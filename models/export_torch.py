#!/usr/bin/python3
"""Export real PyTorch models to ONNX (opset 14), with one test case each, for allot's importer and runtime.

Why: allot's own generators (models/*.cc) reproduce the papers' graphs, but only models that a real framework
exported show the op mix, initializer layout and naming that users will feed allot, and only a framework can
provide reference outputs for allot's runtime (Debian has no ONNX Runtime, and onnx 1.12 has no reference
evaluator; see shared/SETUP.md).

Layout (the libonnx-testdata one, so the same test harness reads both):
    OUT/NAME/model.onnx
    OUT/NAME/test_data_set_0/input_0.pb    one input, a serialized TensorProto
    OUT/NAME/test_data_set_0/output_0.pb   PyTorch's output for it (eval mode)

Run with Debian's interpreter, which has torch and torchvision:
    /usr/bin/python3 models/export_torch.py --out out/torch --models resnet50,lstm_lm --batch 1 --seed 1

All models are built with weights=None (random init, seeded by --seed) and exported with static shapes.
"""

import argparse
import os
import sys
import time

import torch
import torch.nn as nn


# ---- model definitions --------------------------------------------------------------------------------------------

class LstmLanguageModel(nn.Module):
    """The RNNLM family at a CPU-friendly size (Zaremba et al.'s "medium" PTB model: 2 layers, 650 -> 512 here).

    nn.LSTM exports as one ONNX LSTM op per layer, the fused form allot's importer must also handle (the
    generators' rnnlm is the unrolled form). `cell=nn.GRU` gives the GRU language model (the ONNX GRU op has its
    own gate layout and linear_before_reset)."""

    def __init__(self, vocab=10000, hidden=512, layers=2, cell=nn.LSTM):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.lstm = cell(hidden, hidden, num_layers=layers, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        output, _ = self.lstm(self.embedding(tokens))
        return self.decoder(output)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q = q.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        scores = q @ k.transpose(-2, -1) * (1.0 / (d // self.heads) ** 0.5) + mask
        y = torch.softmax(scores, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))


class Gpt2Block(nn.Module):
    def __init__(self, d_model, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, heads)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Gpt2Like(nn.Module):
    """GPT-2's architecture (pre-LN, learned positions, tied LM head, GPT-2's vocabulary) at 6 layers and
    d_model 512 instead of 12 and 768, to keep the file and the CPU time moderate. The file is still ~270 MB:
    the exporter constant-folds the tied head's transpose into a second copy of the token embedding."""

    def __init__(self, vocab=50257, d_model=512, layers=6, heads=8, context=1024):
        super().__init__()
        self.wte = nn.Embedding(vocab, d_model)
        self.wpe = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList([Gpt2Block(d_model, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d_model)
        # One causal mask for all blocks (a per-block buffer would be exported once per block).
        self.register_buffer("mask", torch.triu(torch.full((context, context), -1e4), diagonal=1), persistent=False)

    def forward(self, tokens):
        positions = torch.arange(tokens.shape[1], dtype=torch.long, device=tokens.device)
        x = self.wte(tokens) + self.wpe(positions)
        mask = self.mask[: tokens.shape[1], : tokens.shape[1]]
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_f(x) @ self.wte.weight.t()


def transformer_encoder():
    """Transformer-base's encoder stack (6 layers, d_model 512, 8 heads, FFN 2048). Its layers are deep copies
    of one layer, identical until make_parameters_distinct() perturbs them."""
    layer = nn.TransformerEncoderLayer(d_model=512, nhead=8, dim_feedforward=2048, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)


def make_parameters_distinct(model):
    """Adds small noise to every parameter that equals an earlier one.

    The exporter merges identical initializers into one plus Identity nodes. Fresh models are full of such
    duplicates: nn.TransformerEncoder's deep-copied layers, every LayerNorm's ones and zeros. A trained model
    has none, so the exported graphs should not either."""
    seen = set()
    with torch.no_grad():
        for p in model.parameters():
            key = (tuple(p.shape), p.detach().numpy().tobytes())
            if key in seen:
                p.add_(torch.randn_like(p) * 0.01)
                key = (tuple(p.shape), p.detach().numpy().tobytes())
            seen.add(key)


# ---- registry -------------------------------------------------------------------------------------------------------

def torchvision_model(name, **kwargs):
    import torchvision  # imported lazily: slow to import and only needed for the CNNs

    return getattr(torchvision.models, name)(weights=None, **kwargs)


def image_input(batch, size):
    return torch.randn(batch, 3, size, size)


# name -> (builder, input maker(batch, generator)). Sizes are fixed here so that exports are comparable runs.
TRANSFORMER_SEQ = 64
LSTM_SEQ = 35  # Zaremba et al.'s unroll length
GPT2_SEQ = 128
MODELS = {
    "resnet50": (lambda: torchvision_model("resnet50"), lambda b: image_input(b, 224)),
    "inception_v3": (lambda: torchvision_model("inception_v3", aux_logits=False, init_weights=False),
                     lambda b: image_input(b, 299)),
    "vgg16": (lambda: torchvision_model("vgg16"), lambda b: image_input(b, 224)),
    "mobilenet_v2": (lambda: torchvision_model("mobilenet_v2"), lambda b: image_input(b, 224)),
    "transformer_encoder": (transformer_encoder, lambda b: torch.randn(b, TRANSFORMER_SEQ, 512)),
    "lstm_lm": (LstmLanguageModel, lambda b: torch.randint(0, 10000, (b, LSTM_SEQ), dtype=torch.long)),
    "gpt2_small": (Gpt2Like, lambda b: torch.randint(0, 50257, (b, GPT2_SEQ), dtype=torch.long)),
}


# ---- export -----------------------------------------------------------------------------------------------------------

def save_tensor(array_tensor, path, name):
    from onnx import numpy_helper

    proto = numpy_helper.from_array(array_tensor.detach().cpu().numpy(), name=name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def export(name, out_dir, batch, seed):
    import onnx

    build, make_input = MODELS[name]
    torch.manual_seed(seed)  # weights and input both follow from the seed
    model = build().eval()
    make_parameters_distinct(model)
    example = make_input(batch)
    model_dir = os.path.join(out_dir, name)
    data_dir = os.path.join(model_dir, "test_data_set_0")
    os.makedirs(data_dir, exist_ok=True)
    model_path = os.path.join(model_dir, "model.onnx")

    start = time.time()
    with torch.no_grad():
        expected = model(example)
    # Exported with autograd on: under no_grad, eval-mode nn.TransformerEncoderLayer takes its fused "fast path"
    # (aten::_transformer_encoder_layer_fwd), which has no ONNX export.
    torch.onnx.export(model, (example,), model_path, opset_version=14, input_names=["input"],
                      output_names=["output"], do_constant_folding=True)
    elapsed = time.time() - start

    # The names in the test data are the graph's own, as in libonnx-testdata.
    graph = onnx.load(model_path, load_external_data=False).graph
    initializers = {init.name for init in graph.initializer}
    input_name = next(i.name for i in graph.input if i.name not in initializers)
    save_tensor(example, os.path.join(data_dir, "input_0.pb"), input_name)
    save_tensor(expected, os.path.join(data_dir, "output_0.pb"), graph.output[0].name)
    onnx.checker.check_model(model_path)
    size_mb = os.path.getsize(model_path) / 2**20
    print(f"{name}: {len(graph.node)} nodes, {len(graph.initializer)} initializers, {size_mb:.0f} MB, "
          f"input {tuple(example.shape)} -> output {tuple(expected.shape)}, {elapsed:.1f} s", flush=True)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated subset of: " + ", ".join(MODELS) + " (default: all)")
    parser.add_argument("--batch", type=int, default=1, help="batch size of the exported graphs (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="seed of weights and test input (default 1)")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(MODELS)})")
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    for name in names:
        export(name, args.out, args.batch, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
