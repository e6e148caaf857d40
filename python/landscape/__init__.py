"""The loss landscapes of small neural networks trained with mean-squared error, from Python.

A thin layer over the Rust library that the ``landscape`` command line runs: each function takes
the command's flags as keyword arguments (``axes`` for repeated ``--axis``, ``x``/``y`` for
samples given as arrays), parses them with the command line's own parser — so defaults, checks
and messages are the command line's — and computes the run with the interpreter released. The
result's arrays are numpy views of the library's memory (no copy), named as the run directory's
files; ``Run.save(dir)`` writes that directory as the command line would, and ``load(dir)``
reads one back.

>>> import landscape
>>> run = landscape.walk(model="2-3-1", data="teacher:n=64,seed=1", walkers=200, lr=0.1,
...                      momentum=0.9, steps=4000, backend="cpu")
>>> run.basins["classes"][0]["copies_found"] > 1
True
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, Iterable, Optional, Sequence, Union

import numpy as np

import tempfile

from ._landscape import Run, compute as _compute, basins as _basins, connect as _connect
from ._landscape import version as _version

__all__ = ["Run", "Loaded", "grid", "walk", "map", "basins", "connect", "load", "__version__"]

__version__: str = _version()

PathLike = Union[str, "os.PathLike[str]"]


def _flags(options: Dict[str, Any]) -> list:
    """Keyword arguments as the command line's flags: ``name_with_underscores`` becomes
    ``--name-with-underscores``; True adds the flag alone and False or None leaves it out (but
    ``bias=False`` is ``--no-bias`` and ``basins=False`` ``--no-basins``); a list repeats it."""
    out = []
    for name, value in options.items():
        if value is None:
            continue
        if name == "bias":
            if not value:
                out.append("--no-bias")
            continue
        if name == "basins":
            if not value:
                out.append("--no-basins")
            continue
        flag = "--" + ("axis" if name == "axes" else name.replace("_", "-"))
        if isinstance(value, bool):
            if value:
                out.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                out.extend([flag, str(v)])
        else:
            out.extend([flag, _text(value)])
    return out


def _text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _samples(x: Any, y: Any):
    if x is None and y is None:
        return None, None
    if x is None or y is None:
        raise ValueError("x and y: give both, or neither")
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float64))
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"x and y: expected 1- or 2-D arrays, got {x.ndim}-D and {y.ndim}-D")
    return x, y


def _problem(model: str, data: Optional[str], x: Any, y: Any) -> Dict[str, Any]:
    if data is None and x is None:
        raise ValueError("data: expected a data string (e.g. 'xor:pm') or arrays x and y")
    if data is not None and x is not None:
        raise ValueError("data: give a data string or arrays x and y, not both")
    # The parser needs --data; arrays replace what it names.
    return {"model": model, "data": data if data is not None else "xor"}


def grid(
    model: str,
    data: Optional[str] = None,
    *,
    axes: Sequence[str] = (),
    origin: Optional[str] = None,
    plane: Optional[str] = None,
    act: Optional[str] = None,
    out_act: Optional[str] = None,
    bias: bool = True,
    x: Any = None,
    y: Any = None,
    save_grad: bool = False,
    hessian: bool = False,
    log: bool = False,
    backend: Optional[str] = None,
    adapter: Optional[str] = None,
) -> Run:
    """L and its gradient at every point of a lattice through parameter space (``landscape
    grid``). Arrays: loss, grad_norm, grad (with ``save_grad``), hessian_min, hessian_max and
    index (with ``hessian``), each shaped as the lattice."""
    flags = _flags(
        dict(
            _problem(model, data, x, y),
            axes=list(axes),
            origin=origin,
            plane=plane,
            act=act,
            out_act=out_act,
            bias=bias,
            save_grad=save_grad,
            hessian=hessian,
            log=log,
            backend=backend,
            adapter=adapter,
        )
    )
    xs, ys = _samples(x, y)
    return _compute("grid", flags, xs, ys)


def walk(
    model: str,
    data: Optional[str] = None,
    *,
    walkers: Optional[int] = None,
    init: Optional[str] = None,
    seed: Optional[int] = None,
    lr: Optional[float] = None,
    momentum: Optional[float] = None,
    steps: Optional[int] = None,
    tol: Optional[float] = None,
    diverge: Optional[float] = None,
    extend: Optional[int] = None,
    finish: Optional[str] = None,
    trace: Optional[int] = None,
    basins: bool = True,
    act: Optional[str] = None,
    out_act: Optional[str] = None,
    bias: bool = True,
    x: Any = None,
    y: Any = None,
    backend: Optional[str] = None,
    adapter: Optional[str] = None,
) -> Run:
    """Gradient-descent walkers from random starts, and (unless ``basins=False``) the basin
    analysis of where they end (``landscape walk``). Arrays: starts, endpoints, loss, grad_norm,
    steps, status, trace (with ``trace``) and basin (class and copy of each walker). Options left
    None take the command line's defaults."""
    flags = _flags(
        dict(
            _problem(model, data, x, y),
            walkers=walkers,
            init=init,
            seed=seed,
            lr=lr,
            momentum=momentum,
            steps=steps,
            tol=tol,
            diverge=diverge,
            extend=extend,
            finish=finish,
            trace=trace,
            basins=basins,
            act=act,
            out_act=out_act,
            bias=bias,
            backend=backend,
            adapter=adapter,
        )
    )
    xs, ys = _samples(x, y)
    return _compute("walk", flags, xs, ys)


def map(  # noqa: A001 (the command's name)
    model: str,
    data: Optional[str] = None,
    *,
    axes: Sequence[str] = (),
    origin: Optional[str] = None,
    plane: Optional[str] = None,
    lr: Optional[float] = None,
    momentum: Optional[float] = None,
    steps: Optional[int] = None,
    tol: Optional[float] = None,
    diverge: Optional[float] = None,
    extend: Optional[int] = None,
    finish: Optional[str] = None,
    color: Optional[str] = None,
    shade: bool = False,
    zoom: Optional[str] = None,
    basins: bool = True,
    act: Optional[str] = None,
    out_act: Optional[str] = None,
    bias: bool = True,
    x: Any = None,
    y: Any = None,
    backend: Optional[str] = None,
    adapter: Optional[str] = None,
) -> Run:
    """A basin map: one walker per pixel of a plane, over parameters or over learning rates
    (``lr=``, ``lrK=``, ``scale=`` axes), coloured by where it ended (``landscape map``).
    Arrays: labels (N1 × N2 × 2, with the analysis), steps, status, loss, endpoints."""
    flags = _flags(
        dict(
            _problem(model, data, x, y),
            axes=list(axes),
            origin=origin,
            plane=plane,
            lr=lr,
            momentum=momentum,
            steps=steps,
            tol=tol,
            diverge=diverge,
            extend=extend,
            finish=finish,
            color=color,
            shade=shade,
            zoom=zoom,
            basins=basins,
            act=act,
            out_act=out_act,
            bias=bias,
            backend=backend,
            adapter=adapter,
        )
    )
    xs, ys = _samples(x, y)
    return _compute("map", flags, xs, ys)


def basins(run: Run) -> Run:
    """The basin analysis of a walk computed with ``basins=False``, as a new run (the walk's
    arrays and a ``basin`` array of class and copy per walker)."""
    return _basins(run)


def connect(
    run: Optional[PathLike] = None,
    *,
    from_: str,
    to: Optional[str] = None,
    all_copies: bool = False,
    generators: bool = False,
    model: Optional[str] = None,
    data: Optional[str] = None,
    act: Optional[str] = None,
    out_act: Optional[str] = None,
    bias: bool = True,
    images: Optional[int] = None,
    steps: Optional[int] = None,
    rounds: Optional[int] = None,
    backend: Optional[str] = None,
    adapter: Optional[str] = None,
    out: Optional[PathLike] = None,
) -> "Loaded":
    """Minimum-energy paths and transition states between two minima (``landscape connect``):
    ``from_`` and ``to`` name CLASS[:COPY] of the walk directory ``run`` (a saved walk), or .npy
    points with ``model`` and ``data``; ``all_copies`` joins ``from_`` to every copy of itself;
    ``images`` and ``steps`` size each string (its images and iterations).
    Runs the command line's connect in this process and returns its run directory (``out``, or
    a fresh temporary one) read with ``load``."""
    target = os.fspath(out) if out is not None else tempfile.mkdtemp(prefix="landscape-connect-")
    options = dict(
        model=model, data=data, act=act, out_act=out_act, bias=bias, to=to,
        all_copies=all_copies, generators=generators, images=images, steps=steps,
        rounds=rounds, backend=backend, adapter=adapter,
    )
    flags = ([os.fspath(run)] if run is not None else []) + ["--from", from_]
    flags += _flags(options) + ["--quiet", "--force", "--out", target]
    _connect(flags)
    return load(target)


class Loaded:
    """A run directory read back: ``spec`` and ``record`` (run.json), ``arrays`` (every array
    run.json lists, read with numpy), ``basins`` (basins.json, where written)."""

    def __init__(self, directory: PathLike):
        self.directory = os.fspath(directory)
        with open(os.path.join(self.directory, "run.json")) as f:
            self.record: Dict[str, Any] = json.load(f)
        self.command: str = self.record["command"]
        self.spec: Dict[str, Any] = self.record["spec"]
        self.arrays: Dict[str, np.ndarray] = {}
        for name, entry in self.record.get("arrays", {}).items():
            path = os.path.join(self.directory, entry["file"])
            if os.path.exists(path):
                self.arrays[name] = np.load(path)
        path = os.path.join(self.directory, "basins.json")
        self.basins: Optional[Dict[str, Any]] = None
        if os.path.exists(path):
            with open(path) as f:
                self.basins = json.load(f)

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    def save(self, directory: PathLike, force: bool = False) -> str:
        """Copies the run directory to ``directory``."""
        target = os.fspath(directory)
        if os.path.exists(target) and os.listdir(target) and not force:
            raise ValueError(f"{target}: exists and is not empty; pass force=True to replace it")
        if os.path.exists(target):
            shutil.rmtree(target)
        shutil.copytree(self.directory, target)
        return target

    def __repr__(self) -> str:
        return f"<landscape.Loaded {self.command} from {self.directory}>"


def load(directory: PathLike) -> Loaded:
    """Reads a run directory written by the command line or by ``Run.save``."""
    if not os.path.exists(os.path.join(os.fspath(directory), "run.json")):
        raise ValueError(f"{os.fspath(directory)}: no run.json; expected a run directory")
    return Loaded(directory)

