// Shared by every kernel: the activations. The model's constants (P, N_IN, N_OUT, HIDDEN_ACT,
// OUT_ACT, WG), its `loss_and_gradient` function and `stage_data` (which copies the data set
// into workgroup memory, or does nothing) come from crates/gpu/src/shader.rs, which generates
// them per model and variant; the kernel declares `data`: inputs (N × N_IN) then targets
// (N × N_OUT). CPU twin: crates/cpu/src/common.rs (keep in sync).

// Activation codes (keep in sync with Activation::code).
const ACT_TANH: u32 = 0u;
const ACT_SIGMOID: u32 = 1u;
const ACT_RELU: u32 = 2u;
const ACT_SOFTPLUS: u32 = 3u;

// tanh(z) ≈ z·P(z²)/Q(z²), the minimax rational approximation of degrees 9/8 that the CPU
// backend uses (crates/cpu/src/common.rs, `tanh`; coefficients from scripts/fit-tanh.py):
// within 6.5 ulp in float32, odd, exact near 0, |tanh| ≤ 1. Drivers' built-in tanh differ in
// accuracy and cost (some are much slower than this one); this one is the same everywhere.
fn tanh_rational(z: f32) -> f32 {
    let x = clamp(z, -8.018211, 8.018211);
    let t = x * x;
    var p = 1.3354765e-8;
    var q = 7.7766015e-7;
    p = fma(p, t, 2.060916e-5);
    q = fma(q, t, 3.2856426e-4);
    p = fma(p, t, 0.0034955929);
    q = fma(q, t, 0.025877);
    p = fma(p, t, 0.1338103);
    q = fma(q, t, 0.46714345);
    p = fma(p, t, 1.0);
    q = fma(q, t, 1.0);
    return clamp(x * p / q, -1.0, 1.0);
}

fn act(code: u32, z: f32) -> f32 {
    switch code {
        case ACT_TANH: { return tanh_rational(z); }
        case ACT_SIGMOID: { return 1.0 / (1.0 + exp(-clamp(z, -80.0, 80.0))); }
        case ACT_RELU: { return max(z, 0.0); }
        case ACT_SOFTPLUS: { return max(z, 0.0) + log(1.0 + exp(-abs(z))); }
        default: { return z; }
    }
}

// a'(z), given z and a = a(z).
fn act_deriv(code: u32, z: f32, a: f32) -> f32 {
    switch code {
        case ACT_TANH: { return 1.0 - a * a; }
        case ACT_SIGMOID: { return a * (1.0 - a); }
        case ACT_RELU: { return select(0.0, 1.0, z > 0.0); }
        case ACT_SOFTPLUS: { return 1.0 / (1.0 + exp(-clamp(z, -80.0, 80.0))); }
        default: { return 1.0; }
    }
}
