//! Shader assembly: a generated header of model constants, common.wgsl, the model's generated
//! `loss_and_gradient`, then the kernel. This is the one templating step: it never edits shader
//! text, it only adds `const` declarations (array sizes in WGSL must be constant, so `override`
//! cannot carry them) and the network's straight-line forward and backward pass.

use crate::backend::KernelModel;

/// The kernels, each with one name shared by its shader file, its CPU twin and its pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `shaders/eval.wgsl` ↔ `backend/cpu/eval.rs`.
    Eval,
    /// `shaders/descend.wgsl` ↔ `backend/cpu/descend.rs`.
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
            Kernel::Eval => include_str!("../../../shaders/eval.wgsl"),
            Kernel::Descend => include_str!("../../../shaders/descend.wgsl"),
        }
    }
}

/// The shared functions every kernel includes.
pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");

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
}

impl Variant {
    /// 64 invocations per workgroup, data read from the storage buffer: runs on every adapter.
    pub const PORTABLE: Variant = Variant {
        workgroup_size: 64,
        staged: 0,
    };
}

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
    format!(
        "// Generated for model {widths:?} (src/backend/gpu/shader.rs).\n\
         const P: u32 = {p}u;\n\
         const N_IN: u32 = {ni}u;\n\
         const N_OUT: u32 = {no}u;\n\
         const HIDDEN_ACT: u32 = {act}u;\n\
         const OUT_ACT: u32 = {oact}u;\n\
         const WG: u32 = {wg}u;\n\
         {staging}",
        widths = km.widths,
        p = km.parameters,
        ni = km.inputs(),
        no = km.outputs(),
        act = km.act,
        oact = km.out_act,
        wg = variant.workgroup_size,
    )
}

/// `loss_and_gradient` for `km` as straight-line code inside one loop over the samples: every
/// index is a constant, so θ and ∇L stay in registers, and the only loop left is the one over
/// samples (software adapters such as llvmpipe cap the loop iterations of an invocation). The
/// operations and their order are those of the CPU twin, `cpu::common::loss_and_gradient`.
/// Samples come from `staged_data` when `variant` stages them, else from `data`.
pub fn network(km: &KernelModel, variant: Variant) -> String {
    use std::fmt::Write;
    let data = if variant.staged > 0 {
        "staged_data"
    } else {
        "data"
    };
    let layers = km.layers();
    // Activation of unit i of layer l (layer 0 is the input), its derivative, and δ.
    let a = |l: usize, i: usize| {
        if l == 0 {
            format!("x{i}")
        } else {
            format!("a{l}_{i}")
        }
    };
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
        let (ni, no, w) = (km.widths[l - 1], km.widths[l], km.w_offsets[l - 1]);
        let code = if l == layers { "OUT_ACT" } else { "HIDDEN_ACT" };
        for i in 0..no {
            let mut z = if km.bias {
                th(km.b_offsets[l - 1] + i)
            } else {
                "0.0".to_string()
            };
            for j in 0..ni {
                let _ = write!(z, " + {} * {}", th(w + i * ni + j), a(l - 1, j));
            }
            let _ = writeln!(c, "        let z{l}_{i} = {z};");
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

/// Loop iterations of `stage_data` in one invocation.
pub fn staging_iterations(variant: Variant) -> u64 {
    u64::from(variant.staged.div_ceil(variant.workgroup_size))
}

/// The complete WGSL source of `kernel` for `km`, compiled as `variant`.
pub fn source(kernel: Kernel, km: &KernelModel, variant: Variant) -> String {
    format!(
        "{}\n{}\n{}\n{}",
        header(km, variant),
        COMMON,
        network(km, variant),
        kernel.body()
    )
}
