"""The `sotl_nas` package, tested from Python against independent facts: published NAS-Bench-201
values, hand-computed estimator and metric values, and a PyTorch module with the structure and
parameter names of NAS-Bench-201's `TinyNetwork`, written here, loading our exported weights."""

import importlib
import json
import math
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

import sotl_nas
from sotl_nas import SotlNasError, estimators, metrics, nb201

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("SOTL_NAS_DATA", ROOT.parent / "shared"))
REF = Path(os.environ.get("NB201_REF_ROOT", ROOT / ".refbench" / "autodl"))
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


def need_tables():
    if not (DATA / "benchmarks" / "nb201" / "nb201-200ep.csv").is_file():
        pytest.skip(f"skipped: needs the NAS-Bench-201 tables under {DATA} (set SOTL_NAS_DATA)")


# --- NAS-Bench-201 ---------------------------------------------------------------------------


def test_published_table_values():
    need_tables()
    bench = nb201.load(DATA)
    assert len(bench) == 15625
    # The benchmark's best CIFAR-10 cell and the all-skip cell (values published with the tables).
    best, acc = bench.best()
    assert str(best) == BEST and acc == pytest.approx(94.3733)
    assert bench.query(ALL_SKIP) == pytest.approx(54.2967)
    assert bench.arch_at(bench.index_of(BEST)) == nb201.Arch(BEST)
    row = bench.row(BEST)
    assert row["full200/cifar10/test"] == pytest.approx(94.3733)
    assert set(row) >= {"index", "arch", "mini/cifar10/valid", "full200/imagenet16-120/test"}


def test_tables_in_the_converted_format(tmp_path):
    full = tmp_path / "full.csv"
    mini = tmp_path / "mini.csv"
    full.write_text(
        "index,arch,cifar10_test,cifar100_test,imagenet16_120_test\n"
        f"0,{ALL_SKIP},54.5,20.25,15.0\n1,{BEST},94.25,73.5,46.75\n"
    )
    mini.write_text(
        "index,arch,cifar10_test,cifar10_valid,cifar100_test,cifar100_valid,"
        "imagenet16_120_test,imagenet16_120_valid\n"
        f"0,{ALL_SKIP},50.0,49.0,20.0,19.5,14.0,13.5\n1,{BEST},88.0,84.0,60.0,60.5,37.0,37.5\n"
    )
    bench = nb201.Bench.from_paths(full, mini)
    assert bench.query(BEST, "cifar100") == 73.5
    assert bench.query(ALL_SKIP, "cifar10", "valid", "mini") == 49.0
    assert bench.best("imagenet16-120", "valid", "mini") == (nb201.Arch(BEST), 37.5)
    with pytest.raises(SotlNasError, match="dataset"):
        bench.query(BEST, "cifar11")
    with pytest.raises(SotlNasError):
        bench.query(CELL)  # not in this partial table


def test_official_archive_converts_and_its_curves_load(tmp_path):
    # The NATS-Bench folder format, written by CPython with the curves the CLI's archive tests
    # use: cell i, cifar10 (d = 1): training loss 2 + 0.01 i - 0.001 e, 200-epoch test 73 + i.
    fixture = ROOT / "crates" / "cli" / "tests" / "fixtures" / "nb201_archive.py"
    nats = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    subprocess.run([sys.executable, str(fixture), "nats", "6", str(nats)], check=True)
    tables = tmp_path / "root" / "benchmarks" / "nb201"
    done = nb201.convert(nats, tables)
    assert done["cells"] == 6
    c = nb201.curves(tmp_path / "root", hp=200)
    assert (len(c), c.epochs, c.hp) == (6, 200, 200)
    for i, arch in enumerate(c.archs()):
        loss = c.curve(arch, "cifar10", "train_loss")
        assert loss[0] == pytest.approx(2 + 0.01 * i, abs=1e-5)
        assert loss[199] == pytest.approx(2 + 0.01 * i - 0.199, abs=1e-5)
        assert c.curve(arch, "cifar10")[-1] == pytest.approx(73 + i, abs=1e-4)
    bench = nb201.Bench.from_paths(tables / "nb201-200ep.csv", tables / "nb201-minibench.csv")
    assert bench.query(c.archs()[2]) == pytest.approx(75.0)
    with pytest.raises(SotlNasError, match="series"):
        c.curve(c.archs()[0], "cifar10", "loss")
    with pytest.raises(SotlNasError, match="hp"):
        nb201.curves(tmp_path / "root", hp=7)
    with pytest.raises(SotlNasError, match="nb201-curves-200.bin"):
        nb201.curves(tmp_path / "nowhere")


def test_arch_strings_sampling_and_mutation():
    a = nb201.Arch(CELL)
    assert str(a) == CELL and repr(a) == f"Arch('{CELL}')"
    assert a.ops == ["nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none", "nor_conv_3x3"]
    assert a.to_genotype()[2] == [("skip_connect", 0), ("none", 1), ("nor_conv_3x3", 2)]
    assert nb201.sample(7) == nb201.sample(7)
    assert len({str(nb201.sample(s)) for s in range(50)}) > 40
    m = nb201.mutate(CELL, 3)
    assert sum(x != y for x, y in zip(m.ops, a.ops)) == 1
    assert len(a.neighbours()) == 6 * 4
    assert {a, nb201.Arch(CELL)} == {a}
    with pytest.raises(SotlNasError, match="arch string"):
        nb201.Arch("|nor_conv_3x3~0|+|")


def test_darts_genotypes():
    text = (
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
        "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
        "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
        "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
        "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
    )
    g = sotl_nas.darts.Genotype(text)
    # DARTS-V2 as published in the DARTS code's genotypes.py.
    assert g == sotl_nas.darts.Genotype("darts-v2")
    assert g.normal[7] == ("dil_conv_3x3", 2) and g.reduce_concat == [2, 3, 4, 5]
    assert sotl_nas.darts.Genotype(str(g)) == g
    with pytest.raises(SotlNasError):
        sotl_nas.darts.Genotype("Genotype(normal=[('no_such_op', 0)])")


# --- estimators and metrics, against hand-computed values ------------------------------------


def test_estimators_hand_computed():
    losses = [4.0, 2.0, 3.0, 1.0]
    assert estimators.sotl(losses) == 10.0
    assert estimators.sotl(losses, last=2) == 4.0
    assert estimators.sotl_e(losses, steps_per_epoch=2) == 4.0  # 3 + 1
    assert estimators.sotl_e(losses, steps_per_epoch=2, epochs=2) == 10.0
    # Epoch means 3 and 2; decay 0.5 weighs the older one by 0.5: 1.5 + 2.
    assert estimators.sotl_ema(losses, steps_per_epoch=2, decay=0.5) == pytest.approx(3.5)
    assert estimators.tlmini(losses) == 1.0
    # The library's sign convention: higher predicts better.
    assert estimators.score("sotl:first=3", losses) == -9.0
    assert estimators.sotl(torch.tensor(losses)) == 10.0
    assert estimators.sotl(np.array(losses, dtype=np.float32)) == 10.0
    assert estimators.sotl_e(np.array(losses), steps_per_epoch=2) == 4.0
    with pytest.raises(SotlNasError, match="window"):
        estimators.score("sotl:last=0", losses)
    with pytest.raises(SotlNasError):
        estimators.score("nonsense", losses)
    with pytest.raises(SotlNasError):
        estimators.sotl([1.0, "x"])
    with pytest.raises(SotlNasError):
        estimators.sotl([])


def test_metrics_hand_computed():
    # Ranks 1 2 3 4 vs 1 3 2 4: sum d^2 = 2, rho = 1 - 6*2 / (4*15).
    assert metrics.spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert metrics.spearman(np.arange(4.0), np.array([1, 3, 2, 4])) == pytest.approx(0.8)
    # 6 pairs, one discordant: (5 - 1) / 6.
    assert metrics.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    x, y = [1.0, 2.0, 4.0], [1.0, 3.0, 2.0]
    mx, my = sum(x) / 3, sum(y) / 3
    r = sum((a - mx) * (b - my) for a, b in zip(x, y)) / math.sqrt(
        sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y)
    )
    assert metrics.pearson(x, y) == pytest.approx(r)
    scores, truth = [3.0, 1.0, 2.0], [10.0, 20.0, 30.0]
    assert metrics.top_k_mean(scores, truth, 2) == 20.0  # items 0 and 2
    assert metrics.precision_at_k(scores, truth, 2) == 0.5  # item 2 of the true best {1, 2}
    xs = list(range(30))
    ys = [v + (7 if v % 5 == 0 else 0) for v in xs]
    lo, hi = metrics.bootstrap(xs, ys, resamples=500, seed=1)
    assert lo <= metrics.spearman(xs, ys) <= hi <= 1.0
    assert metrics.bootstrap(xs, ys, resamples=500, seed=1) == (lo, hi)
    with pytest.raises(SotlNasError):
        metrics.bootstrap(xs, ys, statistic="median")
    with pytest.raises(SotlNasError):
        metrics.spearman([1, 2], [1, 2, 3])


# --- studies ---------------------------------------------------------------------------------

TRAIN = {
    "arch": CELL,
    "dataset": "synthetic",
    "channels": 4,
    "cells_per_stage": 1,
    "epochs": 2,
    "batch_size": 32,
    "subset": 256,
    "test_subset": 64,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    calls = []
    result = sotl_nas.run("train", TRAIN, out=out, progress=lambda *a: calls.append(a))
    return out, result, calls


def test_train_study_end_to_end(trained):
    out, result, calls = trained
    assert result["arch"] == CELL and result["epochs"] == 2 and result["steps"] == 16
    # TinyNetwork(4, 1, CELL, 10)'s weights, as the test's own PyTorch module counts them
    # (test_export_loads_into_tiny_network_and_gives_our_logits).
    assert result["param_count"] == 11446
    assert 0.0 <= result["final_test_acc"] <= 1.0
    assert calls and calls[-1][0] == "train" and calls[-1][1] == calls[-1][2] == 16
    record = json.loads((out / "record.json").read_text())
    losses = [s["train_loss"] for s in record["steps"]]
    assert estimators.score("sotl", record=record) == pytest.approx(-sum(losses))
    # Rerunning the finished run resumes from its checkpoint and trains nothing more.
    again = sotl_nas.run("train", TRAIN, out=out, progress=False)
    assert again["resumed_from_step"] == 16 and again["steps"] == 16


def test_darts_study_end_to_end(tmp_path):
    cfg = {
        "methods": ["sotl"],
        "seeds": 1,
        "search": {"epochs": 2, "batch_size": 16, "unroll_steps": 2, "eigen_every": 0},
        "net": {"channels": 4, "cells_per_stage": 1},
        "data": {"source": "synthetic", "synthetic_images": 128, "image_size": 8},
    }
    rows = sotl_nas.run("darts", cfg, out=tmp_path, progress=False)
    assert isinstance(rows, list) and len(rows) == 1
    assert (rows[0]["method"], rows[0]["seed"]) == ("sotl", 0)
    nb201.Arch(rows[0]["genotype"])  # the chosen cell is a valid arch string
    assert (tmp_path / "table.md").is_file()
    # The same study again resumes from its folder and chooses the same cell.
    assert sotl_nas.run("darts", cfg, out=tmp_path, progress=False) == rows


def test_bad_input_raises_with_the_library_message(tmp_path):
    with pytest.raises(SotlNasError, match="unknown field `chanels`"):
        sotl_nas.run("train", {**TRAIN, "chanels": 8}, out=tmp_path / "a", progress=False)
    with pytest.raises(SotlNasError, match="unknown study"):
        sotl_nas.run("trian", {}, out=tmp_path / "b")
    with pytest.raises(SotlNasError, match="no option"):
        sotl_nas.run("train", TRAIN, out=tmp_path / "c", top=3, progress=False)
    with pytest.raises(SotlNasError, match="dict"):
        sotl_nas.run("train", [1, 2], out=tmp_path / "d")
    with pytest.raises(SotlNasError, match="plain number"):
        sotl_nas.run("train", {**TRAIN, "lr": float("nan")}, out=tmp_path / "g")
    with pytest.raises(SotlNasError, match="takes no config"):
        sotl_nas.run("oneshot-rank", {"seed": 1}, out=tmp_path / "h", supernet="x.ot")
    with pytest.raises(SotlNasError, match="device"):
        sotl_nas.run("train", TRAIN, out=tmp_path / "e", device="tpu")
    with pytest.raises(SotlNasError, match="arch"):
        sotl_nas.run("train", {**TRAIN, "arch": "|x~0|"}, out=tmp_path / "f", progress=False)
    assert "search" in sotl_nas.config_defaults("darts")
    with pytest.raises(SotlNasError):
        sotl_nas.config_defaults("nope")


def test_ctrl_c_stops_the_study_and_the_folder_resumes(tmp_path):
    cfg = {**TRAIN, "epochs": 12, "checkpoint_every_steps": 2}
    sent = []

    def interrupt_after_a_few_steps(label, pos, length, msg):
        if pos >= 5 and not sent:
            sent.append(pos)
            os.kill(os.getpid(), signal.SIGINT)
            # Python runs signal handlers on the main thread, which waits for the study; this
            # sleep releases the GIL so that it sees the signal before the study goes on.
            time.sleep(1.0)

    # Python's own Ctrl-C handler, which a shell leaves out for a background job (SIGINT then
    # starts ignored, and Python keeps it so).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            sotl_nas.run("train", cfg, out=tmp_path, progress=interrupt_after_a_few_steps)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sent and not (tmp_path / "summary.json").exists()
    done = sotl_nas.run("train", cfg, out=tmp_path, progress=False)
    assert done["resumed_from_step"] is not None and done["resumed_from_step"] >= 4
    assert done["steps"] == 12 * 8


# --- export into PyTorch ---------------------------------------------------------------------


class ReLUConvBN(nn.Module):
    def __init__(self, c_in, c_out, k, stride):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x):
        return self.op(x)


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


class Cell(nn.Module):
    """NAS-Bench-201's inference cell: a module per edge, `none` included, in arch-string order."""

    def __init__(self, ops, c):
        super().__init__()
        make = {
            "none": lambda: Zero(),
            "skip_connect": lambda: nn.Identity(),
            "avg_pool_3x3": lambda: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
            "nor_conv_1x1": lambda: ReLUConvBN(c, c, 1, 1),
            "nor_conv_3x3": lambda: ReLUConvBN(c, c, 3, 1),
        }
        self.layers = nn.ModuleList(make[o]() for o in ops)
        self.edges = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]

    def forward(self, x):
        nodes = [x, 0, 0, 0]
        for layer, (to, frm) in zip(self.layers, self.edges):
            nodes[to] = nodes[to] + layer(nodes[frm])
        return nodes[3]


class Reduction(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False)
        )

    def forward(self, x):
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class Tiny(nn.Module):
    """The structure and parameter names of NAS-Bench-201's `TinyNetwork`."""

    def __init__(self, c, n, ops, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        cells, c_prev = [], c
        for stage, width in enumerate([c, 2 * c, 4 * c]):
            if stage:
                cells.append(Reduction(c_prev, width))
            cells += [Cell(ops, width) for _ in range(n)]
            c_prev = width
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(c_prev, classes)

    def forward(self, x):
        h = self.stem(x)
        for cell in self.cells:
            h = cell(h)
        return self.classifier(self.lastact(h).mean(dim=(2, 3)))


def exported(trained, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file

    run, _, _ = trained
    path = tmp_path / "net.safetensors"
    summary = sotl_nas.export(run, path)
    assert summary["arch"] == CELL and summary["param_count"] == 11446
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta["arch"] == CELL and (meta["C"], meta["N"], meta["num_classes"]) == ("4", "1", "10")
    return load_file(str(path)), meta


def test_export_loads_into_tiny_network_and_gives_our_logits(trained, tmp_path):
    state, meta = exported(trained, tmp_path)
    net = Tiny(4, 1, nb201.Arch(meta["arch"]).ops, 10)
    net.load_state_dict(state, strict=True)
    net.eval()
    assert sum(p.numel() for p in net.parameters()) == 11446
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = net(x)
    ours = nb201.logits(trained[0], x)
    err = (theirs - ours).abs().max().item()
    print(f"export round trip, own TinyNetwork: max |logit difference| = {err:.3g}")
    assert err < 1e-4
    # Trained weights, not a fresh network: the running statistics moved.
    assert not torch.allclose(state["lastact.0.running_var"], torch.ones(16))


def load_reference_tiny_network():
    pkg = REF / "xautodl"
    if not (pkg / "models" / "cell_infers" / "tiny_network.py").is_file():
        return None
    for name, sub in [
        ("xautodl", ""),
        ("xautodl.models", "models"),
        ("xautodl.models.cell_searchs", "models/cell_searchs"),
        ("xautodl.models.cell_infers", "models/cell_infers"),
    ]:
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = [str(pkg / sub) if sub else str(pkg)]
            sys.modules[name] = mod
    tiny = importlib.import_module("xautodl.models.cell_infers.tiny_network")
    geno = importlib.import_module("xautodl.models.cell_searchs.genotypes")
    return tiny.TinyNetwork, geno.Structure


def test_export_loads_into_the_reference_tiny_network(trained, tmp_path):
    ref = load_reference_tiny_network()
    if ref is None:
        pytest.skip(
            f"skipped: the AutoDL-Projects reference code is not at {REF} "
            "(see scripts/bench-vs-pytorch for how to extract it)"
        )
    TinyNetwork, Structure = ref
    state, meta = exported(trained, tmp_path)
    net = TinyNetwork(int(meta["C"]), int(meta["N"]), Structure.str2structure(meta["arch"]), 10)
    net.load_state_dict(state, strict=True)
    net.eval()
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, theirs = net(x)
    err = (theirs - nb201.logits(trained[0], x)).abs().max().item()
    print(f"export round trip, reference TinyNetwork: max |logit difference| = {err:.3g}")
    assert err < 1e-4


def test_export_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(SotlNasError, match="sotl-nas train"):
        sotl_nas.export(tmp_path, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()
