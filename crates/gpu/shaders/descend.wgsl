// Gradient descent with heavy-ball momentum. Each dispatch advances every running walker until
// it stops or reaches step `until`; θ and the velocity stay in private memory between steps.
// CPU twin: crates/cpu/src/descend.rs.
//
// Two ways to give walkers to invocations (QUEUED, set per variant in the header):
// - queued (`walk_queued`, the default): an invocation is a lane that walks one walker after
//   another. It takes walker `lane` first (when lane < lanes), then the next from a queue
//   shared by the dispatch when its walker stops, so that lanes idle only at the end of a
//   dispatch, not until the slowest walker of their subgroup stops; and walkers at a fixed
//   point of the float32 step retire. It walks in segments of SEGMENT steps and looks at its
//   walker (stopped, at a fixed point, to be replaced) only between segments: a software
//   adapter runs every branch under a mask, so a test on every step would cost it every step.
// - one walker an invocation (`walk_one`), for comparisons.

// Keep in sync with DescendParams in crates/gpu/src/descend.rs.
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
    // Invocations that take their first walker by index: lane i takes walker i.
    lanes: u32,
    // A lane takes another walker only while it has used at most this many slots (a segment
    // is SEGMENT of them, taking a walker one): on a software adapter this keeps every
    // invocation within the driver's loop cap; 0xffffffff elsewhere.
    take_until: u32,
    // 1: a walker whose step left θ and its velocity bit for bit where they were (a fixed
    // point of the float32 step, which every later step repeats) ends at once as it would
    // after its last step. Checked on the last step of every segment.
    retire: u32,
    // 1: every walker has a learning rate of its own per weight layer, in `rates`, in place
    // of `lr` (`update_rated`, generated for the model).
    rated: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// Status codes (keep in sync with Status in crates/core/src/spec/walk.rs and RUNNING in
// crates/core/src/backend.rs).
const CONVERGED: u32 = 0u;
const MAX_STEPS: u32 = 1u;
const DIVERGED: u32 = 2u;
const NON_FINITE: u32 = 3u;
const RUNNING: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: DescendParams;
@group(0) @binding(1) var<storage, read> data: array<f32>;
// With `rated`: each walker's learning rate of each weight layer (count × GROUPS).
@group(0) @binding(2) var<storage, read> rates: array<f32>;
// θ of every walker (count × P), then its velocity (count × P).
@group(0) @binding(4) var<storage, read_write> state: array<f32>;
// L of every walker, then ‖∇L‖.
@group(0) @binding(5) var<storage, read_write> values: array<f32>;
// Steps taken by every walker, then its status.
@group(0) @binding(6) var<storage, read_write> counters: array<u32>;
// The next walker to hand out (less `lanes`; zeroed before every dispatch), then how many
// walkers retired at a fixed point in the whole walk.
@group(0) @binding(7) var<storage, read_write> queue: array<atomic<u32>, 4>;

// x is finite: neither NaN nor ±inf (WGSL has no isnan; compare the bits' exponent).
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// Twin of `classify` in crates/core/src/backend.rs.
fn classify(theta_finite: bool, max_abs: f32, loss: f32, grad_norm: f32, step: u32) -> u32 {
    if (!theta_finite) { return NON_FINITE; }
    if (max_abs > params.diverge) { return DIVERGED; }
    if (!is_finite(loss) || !is_finite(grad_norm)) { return NON_FINITE; }
    if (grad_norm < params.tol) { return CONVERGED; }
    if (step >= params.steps) { return MAX_STEPS; }
    return RUNNING;
}

// L, ‖∇L‖ and the status of a walker at θ after `step` steps (∇L left in `grad`).
struct Evaluated {
    loss: f32,
    norm: f32,
    status: u32,
}

fn evaluate(
    theta: ptr<function, array<f32, P>>,
    grad: ptr<function, array<f32, P>>,
    step: u32,
) -> Evaluated {
    let loss = loss_and_gradient(theta, grad, params.n_samples);
    var sq = 0.0;
    var max_abs = 0.0;
    var theta_finite = true;
    for (var p = 0u; p < P; p++) {
        sq += (*grad)[p] * (*grad)[p];
        max_abs = max(max_abs, abs((*theta)[p]));
        theta_finite = theta_finite && is_finite((*theta)[p]);
    }
    let norm = sqrt(sq);
    return Evaluated(loss, norm, classify(theta_finite, max_abs, loss, norm, step));
}

// One step down ∇L.
fn update(
    theta: ptr<function, array<f32, P>>,
    velocity: ptr<function, array<f32, P>>,
    grad: ptr<function, array<f32, P>>,
) {
    if (params.momentum == 0.0) {
        // Plain descent: θ − lr·∇L in one multiply–add, as the CPU backend (velocity stays 0).
        for (var p = 0u; p < P; p++) { (*theta)[p] = fma(-params.lr, (*grad)[p], (*theta)[p]); }
    } else {
        for (var p = 0u; p < P; p++) {
            let v = params.momentum * (*velocity)[p] - params.lr * (*grad)[p];
            (*velocity)[p] = v;
            (*theta)[p] += v;
        }
    }
}

// A step of the walker: by its own rates with `rated`, else by `lr`.
fn step_walker(
    theta: ptr<function, array<f32, P>>,
    velocity: ptr<function, array<f32, P>>,
    grad: ptr<function, array<f32, P>>,
    rate: ptr<function, array<f32, GROUPS>>,
) {
    if (params.rated != 0u) {
        update_rated(theta, velocity, grad, rate, params.momentum);
    } else {
        update(theta, velocity, grad);
    }
}

// Walker `w`'s learning rates, with `rated`.
fn load_rates(w: u32, rate: ptr<function, array<f32, GROUPS>>) {
    if (params.rated == 0u) { return; }
    for (var l = 0u; l < GROUPS; l++) { (*rate)[l] = rates[w * GROUPS + l]; }
}

// Walker `w`'s θ, velocity and step count (a fresh walker: its start, 0, 0).
fn load(
    w: u32,
    theta: ptr<function, array<f32, P>>,
    velocity: ptr<function, array<f32, P>>,
) -> u32 {
    let base = w * P;
    let vbase = params.count * P + w * P;
    for (var p = 0u; p < P; p++) {
        (*theta)[p] = state[base + p];
        (*velocity)[p] = 0.0;
    }
    if (params.fresh != 0u) { return 0u; }
    for (var p = 0u; p < P; p++) { (*velocity)[p] = state[vbase + p]; }
    return counters[w];
}

// Walker `w`'s state and results.
fn store(
    w: u32,
    theta: ptr<function, array<f32, P>>,
    velocity: ptr<function, array<f32, P>>,
    e: Evaluated,
    step: u32,
) {
    let base = w * P;
    let vbase = params.count * P + w * P;
    for (var p = 0u; p < P; p++) {
        state[base + p] = (*theta)[p];
        state[vbase + p] = (*velocity)[p];
    }
    values[w] = e.loss;
    values[params.count + w] = e.norm;
    counters[w] = step;
    counters[params.count + w] = e.status;
}

// Walker `lane`, from its step to `until` or until it stops.
fn walk_one(lane: u32) {
    if (lane >= params.count || (params.fresh == 0u && counters[params.count + lane] != RUNNING)) {
        return;
    }
    var theta: array<f32, P>;
    var velocity: array<f32, P>;
    var grad: array<f32, P>;
    var rate: array<f32, GROUPS>;
    var step = load(lane, &theta, &velocity);
    load_rates(lane, &rate);
    var e: Evaluated;
    // One evaluation per step up to `until`, plus the one that classifies the point reached.
    let evaluations = params.until - min(step, params.until) + 1u;
    for (var k = 0u; k < evaluations; k++) {
        e = evaluate(&theta, &grad, step);
        if (e.status != RUNNING || step >= params.until) { break; }
        step_walker(&theta, &velocity, &grad, &rate);
        step++;
    }
    store(lane, &theta, &velocity, e, step);
}

// A queued lane takes a new walker, stores one that stopped, and looks for a fixed point only
// every SEGMENT steps (a constant of the header): a walker that stops within a segment leaves
// its lane idle for the rest of it.

// Walkers from `lane` and then the queue, each from its step to `until` or until it stops (or
// retires), while the lane's slots last.
fn walk_queued(lane: u32) {
    var theta: array<f32, P>;
    var velocity: array<f32, P>;
    var grad: array<f32, P>;
    var rate: array<f32, GROUPS>;
    // θ and the velocity before the last step of a segment.
    var before: array<f32, P>;
    var vbefore: array<f32, P>;
    var w = 0u;
    var walking = false;
    var first = true;
    var used = 0u;
    var step = 0u;
    // Walkers this lane retired, added to the walk's count once, at the end.
    var retired = 0u;
    loop {
        if (!walking) {
            // The next walker still running, if any is left and fits.
            loop {
                if (used > params.take_until) { break; }
                used++;
                var t = 0u;
                if (first) {
                    first = false;
                    if (lane >= params.lanes) { continue; }
                    t = lane;
                } else {
                    t = params.lanes + atomicAdd(&queue[0], 1u);
                }
                if (t >= params.count) { break; }
                if (params.fresh != 0u || counters[params.count + t] == RUNNING) {
                    w = t;
                    walking = true;
                    break;
                }
            }
            if (!walking) { break; }
            step = load(w, &theta, &velocity);
            load_rates(w, &rate);
        }
        // A segment: up to SEGMENT evaluations, each but a stopping one followed by a step.
        used += SEGMENT;
        var e: Evaluated;
        var ended = false;
        for (var k = 1u; k < SEGMENT; k++) {
            e = evaluate(&theta, &grad, step);
            if (e.status != RUNNING || step >= params.until) {
                ended = true;
                break;
            }
            step_walker(&theta, &velocity, &grad, &rate);
            step++;
        }
        if (!ended) {
            // The segment's last step, which a walker at a fixed point leaves where it was.
            e = evaluate(&theta, &grad, step);
            ended = e.status != RUNNING || step >= params.until;
            if (!ended) {
                let look = params.retire != 0u;
                if (look) {
                    for (var p = 0u; p < P; p++) {
                        before[p] = theta[p];
                        vbefore[p] = velocity[p];
                    }
                }
                step_walker(&theta, &velocity, &grad, &rate);
                step++;
                if (look) {
                    var still = true;
                    for (var p = 0u; p < P; p++) {
                        still = still && bitcast<u32>(theta[p]) == bitcast<u32>(before[p])
                            && bitcast<u32>(velocity[p]) == bitcast<u32>(vbefore[p]);
                    }
                    if (still) {
                        // Every later step repeats this one: the walker ends after its budget,
                        // at this θ, with the L and ‖∇L‖ just evaluated there.
                        e.status = MAX_STEPS;
                        step = params.steps;
                        ended = true;
                        retired++;
                    }
                }
            }
        }
        if (ended) {
            store(w, &theta, &velocity, e, step);
            walking = false;
        }
    }
    if (retired != 0u) {
        atomicAdd(&queue[1], retired);
    }
}

@compute @workgroup_size(WG)
fn descend(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Before any invocation returns: it ends in a barrier of the whole workgroup.
    stage_data(lid);
    let lane = gid.x + gid.y * groups.x * WG;
    if (QUEUED) {
        walk_queued(lane);
    } else {
        walk_one(lane);
    }
}
