// Gradient descent with heavy-ball momentum, one invocation per walker. Each dispatch advances
// every running walker until it stops or reaches step `until`; θ and the velocity stay in
// private memory between steps. CPU twin: src/backend/cpu/descend.rs.

// Keep in sync with DescendParams in src/backend/gpu/descend.rs.
struct DescendParams {
    count: u32,
    n_samples: u32,
    steps: u32,
    until: u32,
    lr: f32,
    momentum: f32,
    tol: f32,
    diverge: f32,
    // 1 on a chunk's first dispatch: θ is the start, the velocity 0, no step taken, running
    // (only θ is uploaded).
    fresh: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// Status codes (keep in sync with Status and RUNNING in src/).
const CONVERGED: u32 = 0u;
const MAX_STEPS: u32 = 1u;
const DIVERGED: u32 = 2u;
const NON_FINITE: u32 = 3u;
const RUNNING: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: DescendParams;
@group(0) @binding(1) var<storage, read> data: array<f32>;
// θ of every walker (count × P), then its velocity (count × P).
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
// L of every walker, then ‖∇L‖.
@group(0) @binding(5) var<storage, read_write> values: array<f32>;
// Steps taken by every walker, then its status.
@group(0) @binding(6) var<storage, read_write> counters: array<u32>;

// x is finite: neither NaN nor ±inf (WGSL has no isnan; compare the bits' exponent).
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// Twin of `classify` in src/backend/mod.rs.
fn classify(theta_finite: bool, max_abs: f32, loss: f32, grad_norm: f32, step: u32) -> u32 {
    if (!theta_finite) { return NON_FINITE; }
    if (max_abs > params.diverge) { return DIVERGED; }
    if (!is_finite(loss) || !is_finite(grad_norm)) { return NON_FINITE; }
    if (grad_norm < params.tol) { return CONVERGED; }
    if (step >= params.steps) { return MAX_STEPS; }
    return RUNNING;
}

@compute @workgroup_size(WG)
fn descend(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Before any invocation returns: it ends in a barrier of the whole workgroup.
    stage_data(lid);
    let w = gid.x + gid.y * groups.x * WG;
    let fresh = params.fresh != 0u;
    if (w >= params.count || (!fresh && counters[params.count + w] != RUNNING)) { return; }
    var theta: array<f32, P>;
    var velocity: array<f32, P>;
    var grad: array<f32, P>;
    let base = w * P;
    let vbase = params.count * P + w * P;
    var step = 0u;
    for (var p = 0u; p < P; p++) {
        theta[p] = state[base + p];
        velocity[p] = 0.0;
    }
    if (!fresh) {
        for (var p = 0u; p < P; p++) { velocity[p] = state[vbase + p]; }
        step = counters[w];
    }
    var status = RUNNING;
    var loss = 0.0;
    var norm = 0.0;
    // One evaluation per step up to `until`, plus the one that classifies the point reached.
    let evaluations = params.until - min(step, params.until) + 1u;
    for (var e = 0u; e < evaluations; e++) {
        loss = loss_and_gradient(&theta, &grad, params.n_samples);
        var sq = 0.0;
        var max_abs = 0.0;
        var theta_finite = true;
        for (var p = 0u; p < P; p++) {
            sq += grad[p] * grad[p];
            max_abs = max(max_abs, abs(theta[p]));
            theta_finite = theta_finite && is_finite(theta[p]);
        }
        norm = sqrt(sq);
        status = classify(theta_finite, max_abs, loss, norm, step);
        if (status != RUNNING || step >= params.until) { break; }
        if (params.momentum == 0.0) {
            // Plain descent: θ − lr·∇L in one multiply–add, as the CPU backend (velocity stays 0).
            for (var p = 0u; p < P; p++) { theta[p] = fma(-params.lr, grad[p], theta[p]); }
        } else {
            for (var p = 0u; p < P; p++) {
                let v = params.momentum * velocity[p] - params.lr * grad[p];
                velocity[p] = v;
                theta[p] += v;
            }
        }
        step++;
    }
    for (var p = 0u; p < P; p++) {
        state[base + p] = theta[p];
        state[vbase + p] = velocity[p];
    }
    values[w] = loss;
    values[params.count + w] = norm;
    counters[w] = step;
    counters[params.count + w] = status;
}
