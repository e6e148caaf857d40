#!/usr/bin/env python3
"""The PyTorch peers of W1 and W2 on a CUDA GPU: what a researcher would write instead of
`landscape`, run on the same GPU. The peer scripts beside SPEC (PEERS_DIR, default
../shared/peers) run PyTorch on the CPU only; this one computes the same hand-written gradient
on the GPU, and takes its data, starts, operation counts and float64 checks from their
peers_common, so that its figures are comparable with theirs. (The JAX peers need no such
script: JAX runs on the GPU when its CUDA plugin is installed.)

  python3 scripts/peers_torch_cuda.py walkers --M 4194304 --variant compile-unroll
  python3 scripts/peers_torch_cuda.py grid --G 8192 --chunk 1048576 --variant compile

walkers variants (theta stored (P, M), the walker axis innermost):
  eager           hand-written gradient, eager ops, one Python iteration per step
  compile         torch.compile of one step, Python loop over steps (the CPU peer's best)
  compile-graphs  the same compiled with mode="reduce-overhead" (CUDA graphs)
  compile-unroll  torch.compile of --unroll steps in one function, so Inductor can fuse them
grid variants (chunks of --chunk points, layout (B, H, N)):
  eager           hand-written loss and gradient, eager ops
  compile         torch.compile of the chunk function (the CPU peer's best)
Each prints one `RESULT {json}` line (and appends it to --out), like the CPU peers. By default
the timed runs leave their results on the GPU; with --to-host each run also copies what
`landscape bench` reads back into host memory (walkers: the final parameters; grid: L and ‖∇L‖ at
every point), so that the two are timed for the same job.
"""
import argparse
import os
import sys

PEERS = os.environ.get(
    "PEERS_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers")
)
sys.path.insert(0, PEERS)
import numpy as np  # noqa: E402
import torch  # noqa: E402

import peers_common as pc  # noqa: E402


def sync_timed(fn):
    def run():
        r = fn()
        torch.cuda.synchronize()
        return r

    return run


def walkers(args, dev):
    H, S, lr = args.H, args.S, args.lr
    X, y = pc.xor_data()
    N = X.shape[0]
    Xt = torch.tensor(X, dtype=torch.float32, device=dev)
    yt = torch.tensor(y, dtype=torch.float32, device=dev)
    x0 = Xt[:, 0, None, None]
    x1 = Xt[:, 1, None, None]
    yy = yt[:, None]
    theta0 = pc.init_walkers(args.M, H, args.seed).astype(np.float32)
    th0 = torch.from_numpy(np.ascontiguousarray(theta0.T)).to(dev)

    def step(th):  # (P, M) -> (P, M)
        W1 = th[: 2 * H].view(H, 2, -1)
        b1 = th[2 * H : 3 * H]
        w2 = th[3 * H : 4 * H]
        b2 = th[4 * H]
        a = torch.tanh(x0 * W1[None, :, 0, :] + x1 * W1[None, :, 1, :] + b1)  # (N, H, M)
        g = (2.0 / N) * ((a * w2).sum(1) + b2 - yy)  # (N, M)
        dz = g[:, None, :] * w2 * (1.0 - a * a)
        grad = torch.cat(
            [
                torch.stack([(dz * x0).sum(0), (dz * x1).sum(0)], 1).reshape(2 * H, -1),
                dz.sum(0),
                (a * g[:, None, :]).sum(0),
                g.sum(0, keepdim=True),
            ],
            0,
        )
        return th - lr * grad

    v = args.variant
    if v == "eager":
        body, calls = step, S
    elif v == "compile":
        body, calls = torch.compile(step, dynamic=False), S
    elif v == "compile-graphs":
        body, calls = torch.compile(step, dynamic=False, mode="reduce-overhead"), S
    elif v == "compile-unroll":
        if S % args.unroll:
            sys.exit(f"--unroll {args.unroll} must divide --S {S}")

        def unrolled(th):
            for _ in range(args.unroll):
                th = step(th)
            return th

        body, calls = torch.compile(unrolled, dynamic=False), S // args.unroll
    else:
        sys.exit(f"unknown walkers variant {v}")

    def fn():
        th = th0.clone()
        with torch.no_grad():
            for _ in range(calls):
                th = body(th)
                if v == "compile-graphs":
                    th = th.clone()
        return th.cpu() if args.to_host else th

    times, res, tw = pc.time_runs(sync_timed(fn), args.repeats)
    theta_f = res.cpu().numpy().T
    med = pc.median(times)
    variant = v + (f"{args.unroll}" if v == "compile-unroll" else "") + ("-to-host" if args.to_host else "")
    out = {
        "workload": "A-walkers", "impl": "torch-cuda", "variant": variant, "dtype": "float32",
        "H": H, "M": args.M, "S": S, "torch": torch.__version__,
        "device": torch.cuda.get_device_name(dev),
        "times_s": times, "warmup_s": tw, "median_s": med,
        "walker_steps_per_s": args.M * S / med,
        "gflops_est": args.M * S * pc.flops_walker_step(H) / med / 1e9,
        "finite": bool(np.isfinite(theta_f).all()),
    }
    if args.check:
        idx = pc.walker_check_indices(args.M, args.check)
        out["check"] = pc.check_walkers(theta0, theta_f, H, lr, S, idx, "float32")
    out["env"] = pc.env_info()
    pc.report(out, args.out)


def grid(args, dev):
    H = pc.TEACHER_H
    P = pc.n_params(H)
    X64, y64, teacher64 = pc.teacher_data(args.N, args.seed)
    X = torch.tensor(X64, dtype=torch.float32, device=dev)
    y = torch.tensor(y64, dtype=torch.float32, device=dev)
    teacher = torch.tensor(teacher64, dtype=torch.float32, device=dev)
    axis = pc.grid_axis(args.G, args.lo, args.hi).astype(np.float32)
    G, N, C = args.G, args.N, args.chunk
    K = G * G
    if K % C:
        sys.exit(f"--chunk {C} must divide G*G = {K}")
    ax = torch.from_numpy(axis).to(dev)
    kk = torch.arange(K, device=dev)
    A_all, B_all = ax[kk // G], ax[kk % G]
    i0, i1 = pc.SWEEP_IDX

    def chunk(a, b):
        th = teacher.expand(a.shape[0], P).clone()
        th[:, i0] = a
        th[:, i1] = b
        Bn = th.shape[0]
        W1 = th[:, : 2 * H].reshape(Bn, H, 2)
        b1 = th[:, 2 * H : 3 * H]
        w2 = th[:, 3 * H : 4 * H]
        b2 = th[:, 4 * H]
        act = torch.tanh(torch.matmul(W1, X.T) + b1[:, :, None])  # (B, H, N)
        r = (act * w2[:, :, None]).sum(1) + b2[:, None] - y  # (B, N)
        loss = (r * r).mean(1)
        g = (2.0 / N) * r
        dz = (1.0 - act * act) * w2[:, :, None] * g[:, None, :]
        grad = torch.cat(
            [torch.matmul(dz, X).reshape(Bn, 2 * H), dz.sum(2), (act * g[:, None, :]).sum(2), g.sum(1, keepdim=True)],
            1,
        )
        return loss, grad

    v = args.variant
    if v == "eager":
        body = chunk
    elif v == "compile":
        body = torch.compile(chunk, dynamic=False)
    else:
        sys.exit(f"unknown grid variant {v}")
    losses = torch.empty(K, device=dev)
    grads = torch.empty(K, P, device=dev)

    def fn():
        with torch.no_grad():
            for k0 in range(0, K, C):
                loss, grad = body(A_all[k0 : k0 + C], B_all[k0 : k0 + C])
                losses[k0 : k0 + C] = loss
                grads[k0 : k0 + C] = grad
            if args.to_host:
                return losses.cpu(), grads.norm(dim=1).cpu()
        return losses, grads

    times, _, tw = pc.time_runs(sync_timed(fn), args.repeats)
    lo, gr = losses.cpu().numpy(), grads.cpu().numpy()
    med = pc.median(times)
    out = {
        "workload": "B-grid", "impl": "torch-cuda",
        "variant": f"{v}-chunk{C}" + ("-to-host" if args.to_host else ""), "dtype": "float32",
        "G": G, "N": N, "torch": torch.__version__, "device": torch.cuda.get_device_name(dev),
        "times_s": times, "warmup_s": tw, "median_s": med,
        "points_per_s": K / med,
        "gflops_est": K * pc.flops_grid_point(N, H) / med / 1e9,
        "finite": bool(np.isfinite(gr).all() and np.isfinite(lo).all()),
    }
    if args.check:
        pts = pc.grid_check_points(G, args.check)
        out["check"] = pc.check_grid(lo, gr, X64, y64, teacher64, axis.astype(np.float64), pts)
    out["env"] = pc.env_info()
    pc.report(out, args.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=["walkers", "grid"])
    ap.add_argument("--variant", default="compile")
    ap.add_argument("--H", type=int, default=3)
    ap.add_argument("--M", type=int, default=4194304, help="walkers (W1-XL)")
    ap.add_argument("--S", type=int, default=1000)
    ap.add_argument("--unroll", type=int, default=10)
    ap.add_argument("--lr", type=float, default=pc.LR_DEFAULT)
    ap.add_argument("--G", type=int, default=8192, help="grid side (W2-XL)")
    ap.add_argument("--N", type=int, default=256)
    ap.add_argument("--lo", type=float, default=-3.0)
    ap.add_argument("--hi", type=float, default=3.0)
    ap.add_argument("--chunk", type=int, default=1 << 20)
    ap.add_argument("--seed", type=int, default=pc.SEED_DEFAULT)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check", type=int, default=6)
    ap.add_argument("--out", default=None)
    ap.add_argument("--to-host", action="store_true", help="time the copy of the results to host memory too")
    ap.add_argument("--device", default="cuda", help="torch device (cpu only to try the script)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: this script times the PyTorch peers on a GPU")
    if dev.type != "cuda":
        torch.cuda.synchronize = lambda: None
        torch.cuda.get_device_name = lambda _d: "cpu"
    (walkers if args.workload == "walkers" else grid)(args, dev)


if __name__ == "__main__":
    main()
