//! Shader assembly: a generated header of model constants, common.wgsl, the model's generated
//! `loss_and_gradient`, then the kernel. This is the one templating step: it never edits shader
//! text, it only adds `const` declarations (array sizes in WGSL must be constant, so `override`
//! cannot carry them) and the network's straight-line forward and backward pass.

use landscape_core::backend::KernelModel;

/// The kernels, each with one name shared by its shader file, its CPU twin and its pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `shaders/eval.wgsl` ↔ `landscape-cpu`'s `eval.rs`.
    Eval,
    /// `shaders/descend.wgsl` ↔ `landscape-cpu`'s `descend.rs`.
    Descend,
}

impl Kernel {
    /// Every kernel, for validation tests.
    pub const ALL: [Kernel; 2] = [Kernel::Eval, Kernel::Descend];

    /// The kernel's name: its shader file stem and entry point.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Eval => "eval",
            Kernel::Descend => "descend",
        }
    }

    fn body(self) -> &'static str {
        match self {
            Kernel::Eval => include_str!("../shaders/eval.wgsl"),
            Kernel::Descend => include_str!("../shaders/descend.wgsl"),
        }
    }
}

/// The shared functions every kernel includes.
pub const COMMON: &str = include_str!("../shaders/common.wgsl");

/// How a kernel is compiled for one adapter and one data set: the workgroup size, and whether
/// each workgroup first copies the data set into workgroup memory. Results do not depend on
/// it, bit for bit (tested); only speed does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    /// Invocations per workgroup.
    pub workgroup_size: u32,
    /// Floats of the data set (inputs, then targets) that every workgroup copies into
    /// workgroup memory before its invocations start, so that the loop over samples reads
    /// on-chip memory; 0 reads the storage buffer instead.
    pub staged: u32,
    /// Lattice evaluation of a one-hidden-layer network only: the hidden units (bit i for unit
    /// i) whose inputs no axis but possibly the slower ones moves, so that they are the same
    /// along each lattice row. Workgroups then tile rows, and each workgroup computes these
    /// units' activations for every sample once, cooperatively, into workgroup memory, instead
    /// of once per point. 0: every invocation computes every unit.
    pub shared_units: u32,
    /// Samples in the data set, when `shared_units` is not 0 (it sizes the shared arrays).
    pub samples: u32,
    /// Every loop over the P parameters written out as P statements (`unroll_parameter_loops`),
    /// so that θ, the velocity and ∇L are only ever indexed by constants and a driver can keep
    /// them in registers instead of (slow, per-thread) local memory.
    pub unrolled: bool,
    /// Walks only: invocations take walkers from a queue, one after another, and walkers at a
    /// fixed point retire (`walk_queued` in descend.wgsl), instead of one walker each.
    pub queued: bool,
}

impl Variant {
    /// 64 invocations per workgroup, data read from the storage buffer: runs on every adapter.
    pub const PORTABLE: Variant = Variant {
        workgroup_size: 64,
        staged: 0,
        shared_units: 0,
        samples: 0,
        unrolled: false,
        queued: false,
    };

    /// Floats of workgroup memory one workgroup of this variant uses.
    pub fn workgroup_floats(&self) -> u64 {
        u64::from(self.staged)
            + 2 * u64::from(self.shared_units.count_ones()) * u64::from(self.samples)
    }
}

/// Steps a queued walk takes between looks at its walker (`walk_queued` in descend.wgsl):
/// `SEGMENT` in every generated header.
pub const SEGMENT: u32 = 32;

/// `stage_data` for a data set of `STAGED` floats.
const STAGE_DATA: &str = r"var<workgroup> staged_data: array<f32, STAGED>;
// Every invocation copies every WG-th float; the trip count is the same for all of them, so
// the barrier after the loop is reached in uniform control flow.
fn stage_data(lid: u32) {
    for (var k = 0u; k < (STAGED + WG - 1u) / WG; k++) {
        let i = k * WG + lid;
        if (i < STAGED) { staged_data[i] = data[i]; }
    }
    workgroupBarrier();
}
";

/// The generated constants for `km`, and for `variant` the workgroup size, the workgroup copy
/// of the data set (`staged_data`) and `stage_data`, which every kernel calls first, from
/// uniform control flow, before any invocation may return.
pub fn header(km: &KernelModel, variant: Variant) -> String {
    let staging = if variant.staged > 0 {
        format!("const STAGED: u32 = {}u;\n{STAGE_DATA}", variant.staged)
    } else {
        "// The data set is read from its storage buffer.\nfn stage_data(lid: u32) {}\n".into()
    };
    let sharing = share_units(km, variant);
    format!(
        "// Generated for model {widths:?} (crates/gpu/src/shader.rs).\n\
         const P: u32 = {p}u;\n\
         const N_IN: u32 = {ni}u;\n\
         const N_OUT: u32 = {no}u;\n\
         const HIDDEN_ACT: u32 = {act}u;\n\
         const OUT_ACT: u32 = {oact}u;\n\
         const WG: u32 = {wg}u;\n\
         const QUEUED: bool = {queued};\n\
         const SEGMENT: u32 = {SEGMENT}u;\n\
         {staging}{sharing}",
        widths = km.widths,
        p = km.parameters,
        ni = km.inputs(),
        no = km.outputs(),
        act = km.act,
        oact = km.out_act,
        wg = variant.workgroup_size,
        queued = variant.queued,
    )
}

/// Where `loss_and_gradient` reads the data set in `variant`.
fn data_array(variant: Variant) -> &'static str {
    if variant.staged > 0 {
        "staged_data"
    } else {
        "data"
    }
}

/// Name of the activation of unit `i` of layer `l` (layer 0 is the input).
fn activation_name(l: usize, i: usize) -> String {
    if l == 0 {
        format!("x{i}")
    } else {
        format!("a{l}_{i}")
    }
}

/// The pre-activation of unit `i` of layer `l`, as one expression: bias first, then the inputs
/// in order (the order of the CPU twin).
fn pre_activation(km: &KernelModel, l: usize, i: usize) -> String {
    use std::fmt::Write;
    let th = |q: usize| format!("(*theta)[{q}]");
    let (ni, w) = (km.widths[l - 1], km.w_offsets[l - 1]);
    let mut z = if km.bias {
        th(km.b_offsets[l - 1] + i)
    } else {
        "0.0".to_string()
    };
    for j in 0..ni {
        let _ = write!(
            z,
            " + {} * {}",
            th(w + i * ni + j),
            activation_name(l - 1, j)
        );
    }
    z
}

/// `ROW_SHARING` and `share_units(theta, lid)`: with `variant.shared_units`, the workgroup's
/// invocations split the samples between them, each writing a(z) and a'(z) of every shared
/// unit into `shared_a`/`shared_d` (slot r of the r-th shared unit, n samples each), then meet
/// at a barrier. Without, an empty function that the kernel never calls.
fn share_units(km: &KernelModel, variant: Variant) -> String {
    use std::fmt::Write;
    let mut c = String::new();
    if variant.shared_units == 0 {
        let _ = writeln!(c, "const ROW_SHARING: bool = false;");
        let _ = writeln!(
            c,
            "fn share_units(theta: ptr<function, array<f32, P>>, lid: u32) {{}}"
        );
        return c;
    }
    let n = variant.samples;
    let slots = variant.shared_units.count_ones();
    let data = data_array(variant);
    let _ = writeln!(c, "const ROW_SHARING: bool = true;");
    let _ = writeln!(c, "const SHARED_SAMPLES: u32 = {n}u;");
    let _ = writeln!(c, "var<workgroup> shared_a: array<f32, {}>;", slots * n);
    let _ = writeln!(c, "var<workgroup> shared_d: array<f32, {}>;", slots * n);
    let _ = writeln!(
        c,
        "// Activations of the hidden units that are the same along a lattice row, for every\n\
         // sample, computed once per workgroup (its invocations share a row). Same trip count for\n\
         // every invocation: the barrier is reached in uniform control flow."
    );
    let _ = writeln!(
        c,
        "fn share_units(theta: ptr<function, array<f32, P>>, lid: u32) {{"
    );
    let _ = writeln!(
        c,
        "    for (var k = 0u; k < (SHARED_SAMPLES + WG - 1u) / WG; k++) {{"
    );
    let _ = writeln!(c, "        let s = k * WG + lid;");
    let _ = writeln!(c, "        if (s < SHARED_SAMPLES) {{");
    for j in 0..km.inputs() {
        let _ = writeln!(c, "            let x{j} = {data}[s * N_IN + {j}u];");
    }
    let mut slot = 0;
    for i in 0..km.widths[1] {
        if variant.shared_units & (1 << i) == 0 {
            continue;
        }
        let _ = writeln!(c, "            let z1_{i} = {};", pre_activation(km, 1, i));
        let _ = writeln!(c, "            let a1_{i} = act(HIDDEN_ACT, z1_{i});");
        let _ = writeln!(
            c,
            "            shared_a[{slot}u * SHARED_SAMPLES + s] = a1_{i};"
        );
        let _ = writeln!(
            c,
            "            shared_d[{slot}u * SHARED_SAMPLES + s] = act_deriv(HIDDEN_ACT, z1_{i}, a1_{i});"
        );
        slot += 1;
    }
    let _ = writeln!(c, "        }}");
    let _ = writeln!(c, "    }}");
    let _ = writeln!(c, "    workgroupBarrier();");
    let _ = writeln!(c, "}}");
    c
}

/// `loss_and_gradient` for `km` as straight-line code inside one loop over the samples: every
/// index is a constant, so θ and ∇L stay in registers, and the only loop left is the one over
/// samples (software adapters such as llvmpipe cap the loop iterations of an invocation). The
/// operations and their order are those of the CPU twin, the kernels of `landscape-cpu`'s
/// `net.rs`. Samples come from `staged_data` when `variant` stages them, else from `data`; the
/// hidden units in `variant.shared_units` come from `share_units`'s workgroup arrays.
pub fn network(km: &KernelModel, variant: Variant) -> String {
    use std::fmt::Write;
    let data = data_array(variant);
    let layers = km.layers();
    // Activation of unit i of layer l (layer 0 is the input), its derivative, and δ.
    let a = activation_name;
    let th = |q: usize| format!("(*theta)[{q}]");
    let mut c = String::new();
    let _ = writeln!(
        c,
        "// L(θ) = (1/n) Σ_s ‖f(x_s) − y_s‖², with ∇L(θ) written into `grad`."
    );
    let _ = writeln!(
        c,
        "fn loss_and_gradient(theta: ptr<function, array<f32, P>>, grad: ptr<function, array<f32, P>>, n: u32) -> f32 {{"
    );
    let _ = writeln!(
        c,
        "    for (var q = 0u; q < P; q++) {{ (*grad)[q] = 0.0; }}"
    );
    let _ = writeln!(c, "    var total = 0.0;");
    let _ = writeln!(c, "    let y_base = n * N_IN;");
    let _ = writeln!(c, "    for (var s = 0u; s < n; s++) {{");
    for j in 0..km.inputs() {
        let _ = writeln!(c, "        let x{j} = {data}[s * N_IN + {j}u];");
    }
    for l in 1..=layers {
        let no = km.widths[l];
        let code = if l == layers { "OUT_ACT" } else { "HIDDEN_ACT" };
        let mut slot = 0;
        for i in 0..no {
            if l == 1 && variant.shared_units & (1 << i) != 0 {
                let _ = writeln!(
                    c,
                    "        let a1_{i} = shared_a[{slot}u * SHARED_SAMPLES + s];"
                );
                let _ = writeln!(
                    c,
                    "        let d1_{i} = shared_d[{slot}u * SHARED_SAMPLES + s];"
                );
                slot += 1;
                continue;
            }
            let _ = writeln!(c, "        let z{l}_{i} = {};", pre_activation(km, l, i));
            let _ = writeln!(c, "        let a{l}_{i} = act({code}, z{l}_{i});");
            let _ = writeln!(
                c,
                "        let d{l}_{i} = act_deriv({code}, z{l}_{i}, a{l}_{i});"
            );
        }
    }
    for k in 0..km.outputs() {
        let _ = writeln!(
            c,
            "        let e{k} = a{layers}_{k} - {data}[y_base + s * N_OUT + {k}u];"
        );
        let _ = writeln!(c, "        total += e{k} * e{k};");
        let _ = writeln!(
            c,
            "        let delta{layers}_{k} = d{layers}_{k} * (2.0 * e{k});"
        );
    }
    for l in (1..=layers).rev() {
        let (ni, no, w) = (km.widths[l - 1], km.widths[l], km.w_offsets[l - 1]);
        for i in 0..no {
            for j in 0..ni {
                let _ = writeln!(
                    c,
                    "        (*grad)[{}] += delta{l}_{i} * {};",
                    w + i * ni + j,
                    a(l - 1, j)
                );
            }
            if km.bias {
                let _ = writeln!(
                    c,
                    "        (*grad)[{}] += delta{l}_{i};",
                    km.b_offsets[l - 1] + i
                );
            }
        }
        if l > 1 {
            for j in 0..ni {
                let back: Vec<String> = (0..no)
                    .map(|i| format!("{} * delta{l}_{i}", th(w + i * ni + j)))
                    .collect();
                let _ = writeln!(
                    c,
                    "        let delta{}_{j} = d{}_{j} * ({});",
                    l - 1,
                    l - 1,
                    back.join(" + ")
                );
            }
        }
    }
    let _ = writeln!(c, "    }}");
    let _ = writeln!(c, "    let inv = 1.0 / f32(n);");
    let _ = writeln!(
        c,
        "    for (var q = 0u; q < P; q++) {{ (*grad)[q] *= inv; }}"
    );
    let _ = writeln!(c, "    return total * inv;");
    let _ = writeln!(c, "}}");
    c
}

/// Loop iterations one invocation of `kernel` spends per sample and per walker step, on top of
/// its fixed overhead (both estimates are upper bounds): the unit of the software adapters' cap.
/// Copying the data set into workgroup memory adds [`staging_iterations`] once per dispatch.
pub fn loop_iterations(kernel: Kernel, km: &KernelModel, n_samples: usize) -> u64 {
    let (n, p) = (n_samples as u64, km.parameters as u64);
    match kernel {
        // Lattice point (origin, four directions), ∇L zeroing, samples, scaling, norm, writes.
        Kernel::Eval => 5 * p + 8 + 2 * p + n + 2 * p + 8,
        // Per step: ∇L zeroing, samples, scaling, the norm and update loops, the step itself.
        Kernel::Descend => 2 * p + n + 2 * p + 1,
    }
}

/// Loop iterations of `stage_data` and `share_units` in one invocation.
pub fn staging_iterations(variant: Variant) -> u64 {
    let shared = if variant.shared_units != 0 {
        variant.samples.div_ceil(variant.workgroup_size)
    } else {
        0
    };
    u64::from(variant.staged.div_ceil(variant.workgroup_size) + shared)
}

/// `GROUPS` (the weight layers) and `update_rated`, descend.wgsl's step for a walker with a
/// learning rate of its own per weight layer (`rate`): as `update`, each layer's weights and
/// biases (consecutive in θ) by the layer's rate. Written out parameter by parameter where
/// `unrolled`, else one loop a layer.
fn rated_update(km: &KernelModel, unrolled: bool) -> String {
    use std::fmt::Write;
    let layers = km.layers();
    let mut ends = Vec::with_capacity(layers);
    for l in 0..layers {
        ends.push(if l + 1 < layers {
            km.w_offsets[l + 1]
        } else {
            km.parameters
        });
    }
    let mut c = format!(
        "const GROUPS: u32 = {layers}u;\n\
         // One step down ∇L at each layer's own rate (generated by crates/gpu/src/shader.rs).\n\
         fn update_rated(\n    theta: ptr<function, array<f32, P>>,\n    \
         velocity: ptr<function, array<f32, P>>,\n    grad: ptr<function, array<f32, P>>,\n    \
         rate: ptr<function, array<f32, GROUPS>>,\n    momentum: f32,\n) {{\n"
    );
    let plain = |q: &str, l: usize| {
        format!("(*theta)[{q}] = fma(-(*rate)[{l}], (*grad)[{q}], (*theta)[{q}]);")
    };
    let heavy = |q: &str, l: usize| {
        format!(
            "let v = momentum * (*velocity)[{q}] - (*rate)[{l}] * (*grad)[{q}]; \
             (*velocity)[{q}] = v; (*theta)[{q}] += v;"
        )
    };
    for (branch, step) in [
        (
            "if (momentum == 0.0) {",
            &plain as &dyn Fn(&str, usize) -> String,
        ),
        ("} else {", &heavy),
    ] {
        let _ = writeln!(c, "    {branch}");
        let mut start = 0;
        for (l, &end) in ends.iter().enumerate() {
            if unrolled {
                for q in start..end {
                    let _ = writeln!(c, "        {{ {} }}", step(&format!("{q}u"), l));
                }
            } else {
                let _ = writeln!(
                    c,
                    "        for (var q = {start}u; q < {end}u; q++) {{ {} }}",
                    step("q", l)
                );
            }
            start = end;
        }
    }
    c.push_str("    }\n}\n");
    c
}

/// The complete WGSL source of `kernel` for `km`, compiled as `variant`.
pub fn source(kernel: Kernel, km: &KernelModel, variant: Variant) -> String {
    let rated = match kernel {
        Kernel::Descend => rated_update(km, variant.unrolled),
        Kernel::Eval => String::new(),
    };
    let text = format!(
        "{}\n{}\n{}\n{}\n{}",
        header(km, variant),
        COMMON,
        network(km, variant),
        rated,
        kernel.body()
    );
    if variant.unrolled {
        unroll_parameter_loops(&text, km.parameters)
    } else {
        text
    }
}

/// `text` with every loop of the form `for (var i = 0u; i < P; i++) { body }` replaced by P
/// copies of its body, each in its own block with `i` replaced by the constant `0u`, `1u`, ….
/// (Drivers unroll such loops themselves only when they can prove the trip count; the loop
/// counters that wgpu adds to every loop against infinite loops can keep them from it, and a
/// loop that stays leaves the arrays it indexes in local memory.) Loops of any other form are
/// left as they are; so is a loop whose braces do not balance.
pub fn unroll_parameter_loops(text: &str, p: usize) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut rest = text;
    while let Some(at) = rest.find("for (var ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match parameter_loop(tail) {
            Some((var, body, len)) => {
                // The body may hold loops over P itself: unroll those in every copy too.
                let body = unroll_parameter_loops(body, p);
                for k in 0..p {
                    out.push('{');
                    out.push_str(&replace_identifier(&body, var, &format!("{k}u")));
                    out.push('}');
                }
                rest = &tail[len..];
            }
            None => {
                out.push_str("for (var ");
                rest = &tail["for (var ".len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// For `text` starting `for (var i = 0u; i < P; i++) {`: the variable, the loop's body and the
/// length of the whole loop up to its closing brace.
fn parameter_loop(text: &str) -> Option<(&str, &str, usize)> {
    let after = text.strip_prefix("for (var ")?;
    let var_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    let var = &after[..var_len];
    let head = format!("for (var {var} = 0u; {var} < P; {var}++) {{");
    if var.is_empty() || !text.starts_with(&head) {
        return None;
    }
    let mut depth = 1;
    for (i, c) in text[head.len()..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let end = head.len() + i;
                    return Some((var, &text[head.len()..end], end + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// `text` with the identifier `name` (not a part of a longer identifier, nor a member after
/// '.') replaced by `with`.
fn replace_identifier(text: &str, name: &str, with: &str) -> String {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last().or_else(|| out.chars().last());
        let after = rest[at + name.len()..].chars().next();
        out.push_str(&rest[..at]);
        let whole = !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident);
        out.push_str(if whole { with } else { name });
        rest = &rest[at + name.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_over_parameters_are_written_out_and_others_left() {
        let text = "a; for (var p = 0u; p < P; p++) { x[p] = y.p + p2 * p; if (p > 0u) { z += 1.0; } } \
                    for (var s = 0u; s < n; s++) { for (var q = 0u; q < P; q++) { g[q] = 0.0; } } \
                    for (var p = 0u; p < P; p++) { unbalanced";
        let out = unroll_parameter_loops(text, 2);
        assert_eq!(
            out,
            "a; { x[0u] = y.p + p2 * 0u; if (0u > 0u) { z += 1.0; } }{ x[1u] = y.p + p2 * 1u; \
             if (1u > 0u) { z += 1.0; } } for (var s = 0u; s < n; s++) { { g[0u] = 0.0; }\
             { g[1u] = 0.0; } } for (var p = 0u; p < P; p++) { unbalanced"
        );
    }
}
