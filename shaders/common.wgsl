// Shared by every kernel: the activations. The model's constants (P, N_IN, N_OUT, HIDDEN_ACT,
// OUT_ACT, WG), its `loss_and_gradient` function and `stage_data` (which copies the data set
// into workgroup memory, or does nothing) come from src/backend/gpu/shader.rs, which generates
// them per model and variant; the kernel declares `data`: inputs (N × N_IN) then targets
// (N × N_OUT). CPU twin: src/backend/cpu/common.rs (keep in sync).

// Activation codes (keep in sync with Activation::code).
const ACT_TANH: u32 = 0u;
const ACT_SIGMOID: u32 = 1u;
const ACT_RELU: u32 = 2u;
const ACT_SOFTPLUS: u32 = 3u;

fn act(code: u32, z: f32) -> f32 {
    switch code {
        // Clamped: tanh(±15) is ±1 in float32, and some drivers' tanh overflows to NaN beyond.
        case ACT_TANH: { return tanh(clamp(z, -15.0, 15.0)); }
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
