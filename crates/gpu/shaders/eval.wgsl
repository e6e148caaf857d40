// L, ‖∇L‖ and optionally ∇L at many points: lattice points of a slice (mode 0) or explicit
// points (mode 1). One invocation per point; with ROW_SHARING (lattices), workgroups tile the
// lattice's rows and share the hidden units a row leaves unchanged. CPU twin:
// crates/cpu/src/eval.rs.

// Keep in sync with EvalParams in crates/gpu/src/eval.rs.
struct EvalParams {
    mode: u32,
    n_samples: u32,
    first: u32,
    count: u32,
    n_axes: u32,
    save_grad: u32,
    // With ROW_SHARING: the lattice row of the first workgroup, and workgroups per row.
    row0: u32,
    segments: u32,
    axis_n: vec4<u32>,
    axis_param: vec4<i32>,
    axis_offset: vec4<u32>,
}

@group(0) @binding(0) var<uniform> params: EvalParams;
@group(0) @binding(1) var<storage, read> data: array<f32>;
// Origin (P values), one direction (P values) per axis slot, then each axis's value table.
@group(0) @binding(2) var<storage, read> vectors: array<f32>;
@group(0) @binding(3) var<storage, read> points: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_norm_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_out: array<f32>;

// θ at global lattice index g: sets first, then offsets, in axis order. Written parameter by
// parameter, so that θ is indexed by the loop variable only (a constant once unrolled).
fn lattice_point(g: u32, theta: ptr<function, array<f32, P>>) {
    var idx = vec4<u32>(0u);
    var rest = g;
    for (var j = i32(params.n_axes) - 1; j >= 0; j--) {
        idx[j] = rest % params.axis_n[j];
        rest = rest / params.axis_n[j];
    }
    for (var p = 0u; p < P; p++) {
        var v = vectors[p];
        for (var j = 0u; j < params.n_axes; j++) {
            if (params.axis_param[j] == i32(p)) {
                v = vectors[params.axis_offset[j] + idx[j]];
            }
        }
        for (var j = 0u; j < params.n_axes; j++) {
            if (params.axis_param[j] < 0) {
                v += vectors[params.axis_offset[j] + idx[j]] * vectors[P * (1u + j) + p];
            }
        }
        (*theta)[p] = v;
    }
}

@compute @workgroup_size(WG)
fn eval(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Before any invocation returns: it ends in a barrier of the whole workgroup.
    stage_data(lid);
    var theta: array<f32, P>;
    var k: u32;
    if (ROW_SHARING) {
        // Workgroups tile lattice rows (points that differ in the last axis only), `segments`
        // per row, so that every invocation of a workgroup shares the row's hidden units.
        // Invocations past the row's end or outside the range help, then return.
        let row_len = params.axis_n[params.n_axes - 1u];
        let group = wid.x + wid.y * groups.x;
        let col = (group % params.segments) * WG + lid;
        let g = (params.row0 + group / params.segments) * row_len + min(col, row_len - 1u);
        lattice_point(g, &theta);
        share_units(&theta, lid);
        if (col >= row_len || g < params.first || g - params.first >= params.count) { return; }
        k = g - params.first;
    } else {
        // A 2-D grid of workgroups covers chunks longer than one dispatch dimension allows.
        k = gid.x + gid.y * groups.x * WG;
        if (k >= params.count) { return; }
        if (params.mode == 0u) {
            lattice_point(params.first + k, &theta);
        } else {
            for (var p = 0u; p < P; p++) { theta[p] = points[k * P + p]; }
        }
    }
    var grad: array<f32, P>;
    let loss = loss_and_gradient(&theta, &grad, params.n_samples);
    var sq = 0.0;
    for (var p = 0u; p < P; p++) { sq += grad[p] * grad[p]; }
    loss_out[k] = loss;
    grad_norm_out[k] = sqrt(sq);
    if (params.save_grad != 0u) {
        for (var p = 0u; p < P; p++) { grad_out[k * P + p] = grad[p]; }
    }
}
