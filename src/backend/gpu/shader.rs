//! Shader assembly: a small generated header of model constants, then common.wgsl, then the
//! kernel. This is the one templating step; it never edits shader text, it only prepends `const`
//! declarations (array sizes in WGSL must be constant, so `override` cannot carry them).

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

/// Invocations per workgroup for every kernel.
pub const WORKGROUP_SIZE: u32 = 64;

fn array(values: &[usize]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v}u")).collect();
    format!("array<u32, {}>({})", values.len(), items.join(", "))
}

/// The generated constants for `km`.
pub fn header(km: &KernelModel) -> String {
    format!(
        "// Generated for model {widths:?} (src/backend/gpu/shader.rs).\n\
         const P: u32 = {p}u;\n\
         const N_IN: u32 = {ni}u;\n\
         const N_OUT: u32 = {no}u;\n\
         const N_LAYERS: u32 = {nl}u;\n\
         const N_UNITS: u32 = {nu}u;\n\
         const HIDDEN_ACT: u32 = {act}u;\n\
         const OUT_ACT: u32 = {oact}u;\n\
         const HAS_BIAS: bool = {bias};\n\
         const WIDTHS = {w};\n\
         const UNIT_OFFSETS = {uo};\n\
         const W_OFFSETS = {wo};\n\
         const B_OFFSETS = {bo};\n\
         const WG: u32 = {wg}u;\n",
        widths = km.widths,
        p = km.parameters,
        ni = km.inputs(),
        no = km.outputs(),
        nl = km.layers(),
        nu = km.units,
        act = km.act,
        oact = km.out_act,
        bias = km.bias,
        w = array(&km.widths),
        uo = array(&km.unit_offsets),
        wo = array(&km.w_offsets),
        bo = array(&km.b_offsets),
        wg = WORKGROUP_SIZE,
    )
}

/// The complete WGSL source of `kernel` for `km`.
pub fn source(kernel: Kernel, km: &KernelModel) -> String {
    format!("{}\n{}\n{}", header(km), COMMON, kernel.body())
}
