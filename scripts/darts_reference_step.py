#!/usr/bin/env python3
"""Times one search step of the original DARTS code's search network, for side-by-side ratios.

Imports `model_search.Network` and `architect.Architect` from an extract of quark0/darts (the
reference stays outside the repository; see scripts/bench-darts-vs-reference) and runs exactly
what its `train_search.py` runs per batch: `architect.step` (first order: the validation loss's
backward and an Adam step on alpha; second order with --unrolled) and the weight step (forward,
backward, gradient-norm clip at 5, SGD lr 0.025 momentum 0.9 weight decay 3e-4). Random CPU
batches; median milliseconds per step and the peak resident memory over the steps as JSON.
"""

import argparse
import json
import os
import statistics
import sys
import time


def rss_mib():
    """Current and peak resident memory (MiB) from /proc/self/status."""
    vals = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, rest = line.split(":", 1)
                vals[key] = float(rest.split()[0]) / 1024.0
    return vals.get("VmRSS"), vals.get("VmHWM")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ref-root", required=True, help="folder holding cnn/model_search.py")
    p.add_argument("--C", type=int, default=16)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--unrolled", action="store_true", help="second-order DARTS")
    p.add_argument("--json", help="write the result here")
    a = p.parse_args()

    import torch
    import torch.nn as nn

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    # The reference places alphas and the unrolled copy on CUDA; keep them on the CPU.
    torch.Tensor.cuda = lambda self, *args, **kw: self
    nn.Module.cuda = lambda self, *args, **kw: self
    sys.path.insert(0, os.path.join(a.ref_root, "cnn"))
    try:
        import numpy  # noqa: F401  (architect.py imports it; the step never uses it)
    except ImportError:
        import types

        sys.modules["numpy"] = types.ModuleType("numpy")
    from architect import Architect

    if getattr(sys.modules.get("numpy"), "__file__", None) is None:
        # Only architect.py saw the stand-in; torch itself runs without NumPy.
        sys.modules.pop("numpy", None)
    from model_search import Network

    criterion = nn.CrossEntropyLoss()
    model = Network(a.C, 10, a.layers, criterion)
    opt = torch.optim.SGD(model.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
    args = argparse.Namespace(
        momentum=0.9, weight_decay=3e-4, arch_learning_rate=3e-4, arch_weight_decay=1e-3
    )
    architect = Architect(model, args)
    shape = (a.batch, 3, a.image_size, a.image_size)
    x_w, y_w = torch.randn(shape), torch.randint(0, 10, (a.batch,))
    x_a, y_a = torch.randn(shape), torch.randint(0, 10, (a.batch,))
    model.train()

    def step():
        architect.step(x_w, y_w, x_a, y_a, 0.025, opt, unrolled=a.unrolled)
        opt.zero_grad()
        loss = criterion(model(x_w), y_w)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    before, _ = rss_mib()
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    _, peak = rss_mib()
    ms = [t * 1e3 for t in times]
    out = {
        "harness": "scripts/darts_reference_step.py (quark0/darts model_search.Network)",
        "ref_commit": open(os.path.join(a.ref_root, "REF_COMMIT")).read().strip()
        if os.path.exists(os.path.join(a.ref_root, "REF_COMMIT"))
        else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "C": a.C,
        "layers": a.layers,
        "batch": a.batch,
        "image_size": a.image_size,
        "unrolled": a.unrolled,
        "steps": a.steps,
        "median_ms": statistics.median(ms),
        "mean_ms": statistics.mean(ms),
        "step_ms": ms,
        "rss_before_mib": before,
        "peak_rss_mib": peak,
        "peak_reset": reset,
        "params": sum(q.numel() for q in model.parameters()),
    }
    text = json.dumps(out, indent=1)
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            f.write(text)
        os.replace(a.json + ".tmp", a.json)
    print(text)


if __name__ == "__main__":
    main()
