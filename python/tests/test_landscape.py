"""The Python module against the command line: the same specification gives identical arrays,
with the dtypes and shapes README documents; save() writes the command line's run directory;
bad input raises ValueError with the library's message; the interpreter is released meanwhile.

LANDSCAPE_BIN names the command line to compare with (default: target/release/landscape)."""
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import landscape

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("LANDSCAPE_BIN", str(ROOT / "target" / "release" / "landscape"))


def cli(tmp_path, name, *args):
    out = tmp_path / name
    subprocess.run([BIN, *args, "--quiet", "--out", str(out)], check=True,
                   env=dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp")))
    return out


def npy(directory, name):
    return np.load(directory / f"{name}.npy")


GRID = dict(model="2-3-1", data="xor:pm", axes=["w1[0,0]=-2:2:17", "w2[0,1]=-1:1:9"],
            origin="random:3", backend="cpu")


def test_grid_equals_the_command_line(tmp_path):
    run = landscape.grid(**GRID, save_grad=True, hessian=True)
    out = cli(tmp_path, "grid", "grid", "--model", "2-3-1", "--data", "xor:pm",
              "--axis", "w1[0,0]=-2:2:17", "--axis", "w2[0,1]=-1:1:9", "--origin", "random:3",
              "--backend", "cpu", "--save-grad", "--hessian")
    for name, dtype, shape in [("loss", np.float32, (17, 9)), ("grad_norm", np.float32, (17, 9)),
                               ("grad", np.float32, (17, 9, 13)),
                               ("hessian_min", np.float64, (17, 9)),
                               ("index", np.uint32, (17, 9))]:
        a = run.arrays[name]
        assert a.dtype == dtype and a.shape == shape, name
        assert np.array_equal(a, npy(out, name), equal_nan=True), name
    # Views of the run's memory, not copies.
    assert not run.loss.flags.owndata and run.loss.base is not None
    assert run.command == "grid" and run.spec["problem"]["model"] == "2-3-1"


def test_walk_basins_and_save_write_the_command_lines_run(tmp_path):
    args = dict(model="2-3-1", data="teacher:n=32,seed=1", walkers=150, init="normal:1",
                seed=4, lr=0.1, momentum=0.9, steps=1500, tol=1e-6, backend="cpu")
    bare = landscape.walk(**args, basins=False)
    assert bare.basins is None and "basin" not in bare.arrays
    run = landscape.basins(bare)
    out = cli(tmp_path, "walk", "walk", "--model", "2-3-1", "--data", "teacher:n=32,seed=1",
              "--walkers", "150", "--init", "normal:1", "--seed", "4", "--lr", "0.1",
              "--momentum", "0.9", "--steps", "1500", "--tol", "1e-6", "--backend", "cpu")
    for name, dtype, shape in [("endpoints", np.float32, (150, 13)), ("loss", np.float32, (150,)),
                               ("steps", np.uint32, (150,)), ("status", np.uint8, (150,)),
                               ("basin", np.int32, (150, 2)), ("placement", np.uint8, (150,)),
                               ("continued", np.uint8, (150,))]:
        a = run.arrays[name]
        assert a.dtype == dtype and a.shape == shape, name
        assert np.array_equal(a, npy(out, name)), name
    assert run.basins["classes"][0]["loss"] < 1e-8
    saved = Path(run.save(tmp_path / "saved"))
    for f in sorted(os.listdir(out)):
        if f.endswith(".npy") or f in ("basins.json", "basins.csv"):
            assert (saved / f).read_bytes() == (out / f).read_bytes(), f
    assert sorted(os.listdir(saved)) == sorted(os.listdir(out))
    loaded = landscape.load(saved)
    assert loaded.command == "walk" and np.array_equal(loaded.endpoints, run.endpoints)
    assert loaded.basins["classes"][0]["id"] == run.basins["classes"][0]["id"]


def test_map_over_learning_rates_equals_the_command_line(tmp_path):
    run = landscape.map(model="2-2-1", data="xor:pm", origin="random:2",
                        axes=["lr1=log:1e-2:3e1:12", "lr2=log:1e-2:3e1:10"], steps=300,
                        basins=False, color="score", backend="cpu")
    out = cli(tmp_path, "map", "map", "--model", "2-2-1", "--data", "xor:pm", "--origin",
              "random:2", "--axis", "lr1=log:1e-2:3e1:12", "--axis", "lr2=log:1e-2:3e1:10",
              "--steps", "300", "--no-basins", "--color", "score", "--backend", "cpu")
    for name, shape in [("status", (12, 10)), ("loss", (12, 10)), ("endpoints", (12, 10, 9)),
                        ("score", (12, 10))]:
        assert run.arrays[name].shape == shape
        assert np.array_equal(run.arrays[name], npy(out, name)), name
    saved = Path(run.save(tmp_path / "saved"))
    assert (saved / "score.npy").read_bytes() == (out / "score.npy").read_bytes()
    assert (saved / "map.png").read_bytes() == (out / "map.png").read_bytes()


def test_a_map_with_its_analysis_has_labels(tmp_path):
    run = landscape.map(model="2-2-1", data="teacher:n=16,seed=3", origin="teacher",
                        axes=["w1[0,0]=-3:3:12", "w1[1,1]=-3:3:12"], steps=800, lr=0.1,
                        momentum=0.9, backend="cpu")
    assert run.labels.shape == (12, 12, 2) and run.labels.dtype == np.int32
    assert run.basins["classes"]


def test_samples_as_arrays_equal_the_same_samples_from_a_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2))
    y = np.tanh(x @ np.array([0.5, -1.0]))
    csv = tmp_path / "d.csv"
    csv.write_text("".join(f"{float(a)!r},{float(b)!r},{float(c)!r}\n" for (a, b), c in zip(x, y)))
    run = landscape.grid(model="2-3-1", x=x, y=y, axes=["w1[0,0]=-2:2:11"], origin="random:1",
                         backend="cpu")
    file = landscape.grid(model="2-3-1", data=f"csv:{csv}", axes=["w1[0,0]=-2:2:11"],
                          origin="random:1", backend="cpu")
    assert np.array_equal(run.loss, file.loss)
    assert run.spec["problem"]["data"] == "arrays"
    saved = Path(run.save(tmp_path / "saved"))
    assert np.array_equal(np.load(saved / "data_x.npy"), x)


@pytest.mark.parametrize("call, names", [
    (lambda: landscape.grid(model="2-x-1", data="xor", axes=["w1[0,0]=0:1:5"]), "--model"),
    (lambda: landscape.grid(model="2-3-1", data="xor", axes=["w1[0,0]=1:0:5"]), "--axis"),
    (lambda: landscape.walk(model="2-3-1", data="nope"), "--data"),
    (lambda: landscape.walk(model="2-3-1", data="xor", lr=-1.0), "--lr"),
    (lambda: landscape.walk(model="2-3-1", data="xor", backend="tpu"), "--backend"),
    (lambda: landscape.map(model="2-3-1", data="xor", axes=["lr=0.1:1:4"]), "--axis"),
    (lambda: landscape.grid(model="2-3-1", x=np.zeros((4, 3)), y=np.zeros(4),
                            axes=["w1[0,0]=0:1:5"]), "x"),
    (lambda: landscape.grid(model="2-3-1", x=np.zeros((4, 2)), axes=["w1[0,0]=0:1:5"]), "x and y"),
    (lambda: landscape.load("/nonexistent-run"), "run.json"),
])
def test_bad_input_raises_value_error_naming_the_flag(call, names):
    with pytest.raises(ValueError) as e:
        call()
    assert names in str(e.value) and "\n" not in str(e.value)


def test_the_interpreter_runs_while_a_walk_computes():
    done = threading.Event()
    result = {}

    def work():
        result["run"] = landscape.walk(model="2-3-1", data="xor:pm", walkers=20000, steps=400,
                                       tol=0.0, basins=False, backend="cpu")
        done.set()

    t = threading.Thread(target=work)
    start = time.perf_counter()
    t.start()
    spins = 0
    while not done.is_set():
        spins += 1
    t.join()
    elapsed = time.perf_counter() - start
    # With the interpreter held for the whole walk, this loop would barely run.
    assert spins > 1000, (spins, elapsed)
    assert result["run"].status.shape == (20000,)


def test_ctrl_c_stops_a_long_walk_and_the_next_call_runs():
    import signal
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        landscape.walk(model="2-3-1", data="xor:pm", walkers=4_000_000, steps=5000, tol=0.0,
                       basins=False, backend="cpu")
    # Within the block it was in (blocks are sized to about 5 s).
    assert time.perf_counter() - start < 20
    timer.join()
    run = landscape.walk(model="2-3-1", data="xor:pm", walkers=100, steps=10, basins=False,
                         backend="cpu")
    assert run.status.shape == (100,)


def test_connect_joins_two_copies_of_a_saved_walks_minimum(tmp_path):
    run = landscape.walk(model="2-2-1", data="teacher:n=16,seed=3", walkers=200, lr=0.1,
                         momentum=0.9, steps=3000, tol=1e-6, backend="cpu")
    assert run.basins["classes"][0]["kind"] == "minimum"
    walk_dir = run.save(tmp_path / "walk")
    joined = landscape.connect(walk_dir, from_="0", generators=True, images=17, steps=200,
                               backend="cpu", out=tmp_path / "connect")
    assert joined.command == "connect" or joined.record.get("command") == "connect"
    with pytest.raises(ValueError):
        landscape.connect(walk_dir, from_="99", to="0", backend="cpu", out=tmp_path / "bad")


def test_the_quickstart_example_runs(tmp_path):
    out = subprocess.run([os.sys.executable, str(ROOT / "python" / "examples" / "quickstart.py"),
                          str(tmp_path / "q.png")], capture_output=True, text=True, check=True)
    assert "48 of 48 copies" in out.stdout, out.stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (tmp_path / "q.png").stat().st_size > 10000
