// Shared by every kernel: activations and the loss/gradient of one network over the data set.
// The model constants (P, N_IN, N_OUT, N_LAYERS, N_UNITS, HIDDEN_ACT, OUT_ACT, HAS_BIAS, WIDTHS,
// UNIT_OFFSETS, W_OFFSETS, B_OFFSETS, WG) come from the header that src/backend/gpu/shader.rs
// generates per model. The kernel declares `data`: inputs (N × N_IN) then targets (N × N_OUT).
// CPU twin: src/backend/cpu/eval.rs (keep in sync).

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

// L(θ) = (1/n) Σ_s ‖f(x_s) − y_s‖², with ∇L(θ) written into `grad`.
fn loss_and_gradient(theta: ptr<function, array<f32, P>>, grad: ptr<function, array<f32, P>>, n: u32) -> f32 {
    // Function-local copies: indexing them with loop variables is valid everywhere.
    var widths = WIDTHS;
    var uoff = UNIT_OFFSETS;
    var woff = W_OFFSETS;
    var boff = B_OFFSETS;
    var a: array<f32, N_UNITS>;
    var d: array<f32, N_UNITS>;
    for (var p = 0u; p < P; p++) { (*grad)[p] = 0.0; }
    let y_base = n * N_IN;
    var total = 0.0;
    for (var s = 0u; s < n; s++) {
        for (var j = 0u; j < N_IN; j++) { a[j] = data[s * N_IN + j]; }
        for (var l = 0u; l < N_LAYERS; l++) {
            let ni = widths[l];
            let no = widths[l + 1u];
            let code = select(HIDDEN_ACT, OUT_ACT, l == N_LAYERS - 1u);
            for (var i = 0u; i < no; i++) {
                var z = 0.0;
                if (HAS_BIAS) { z = (*theta)[boff[l] + i]; }
                for (var j = 0u; j < ni; j++) {
                    z += (*theta)[woff[l] + i * ni + j] * a[uoff[l] + j];
                }
                let v = act(code, z);
                a[uoff[l + 1u] + i] = v;
                d[uoff[l + 1u] + i] = act_deriv(code, z, v);
            }
        }
        let lo = uoff[N_LAYERS];
        for (var k = 0u; k < N_OUT; k++) {
            let e = a[lo + k] - data[y_base + s * N_OUT + k];
            total += e * e;
            d[lo + k] *= 2.0 * e;
        }
        for (var l = N_LAYERS; l >= 1u; l--) {
            let ni = widths[l - 1u];
            let no = widths[l];
            for (var i = 0u; i < no; i++) {
                let delta = d[uoff[l] + i];
                for (var j = 0u; j < ni; j++) {
                    (*grad)[woff[l - 1u] + i * ni + j] += delta * a[uoff[l - 1u] + j];
                }
                if (HAS_BIAS) { (*grad)[boff[l - 1u] + i] += delta; }
            }
            if (l > 1u) {
                for (var j = 0u; j < ni; j++) {
                    var back = 0.0;
                    for (var i = 0u; i < no; i++) {
                        back += (*theta)[woff[l - 1u] + i * ni + j] * d[uoff[l] + i];
                    }
                    d[uoff[l - 1u] + j] *= back;
                }
            }
        }
    }
    let inv = 1.0 / f32(n);
    for (var p = 0u; p < P; p++) { (*grad)[p] *= inv; }
    return total * inv;
}
