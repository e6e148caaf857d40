//! The symmetry group G of a model: per hidden layer, the permutations of its units and, where
//! the activation allows it, a sign flip per unit. Every g in G leaves the network's function,
//! and so the loss, unchanged.
//!
//! Flips: tanh and linear units map (w, b, v) → (−w, −b, −v), with w, b the unit's incoming
//! weights and bias and v its outgoing weights. Sigmoid units use σ(−z) = 1 − σ(z): (w, b, v, c) →
//! (−w, −b, −v, c + v), which needs the next layer's bias c. ReLU and softplus have no flip (ReLU's
//! continuous positive rescaling is not part of this finite group).

use super::assignment::assign;
use landscape_core::spec::model::{Activation, Model};

/// Whether hidden units of `model` can flip their sign.
pub fn has_flips(model: &Model) -> bool {
    match model.act {
        Activation::Tanh | Activation::Linear => true,
        Activation::Sigmoid => model.bias,
        Activation::Relu | Activation::Softplus => false,
    }
}

/// |G| as a float64 (it overflows integers quickly: 20 units already give 20! · 2²⁰).
pub fn group_order(model: &Model) -> f64 {
    let flips = has_flips(model);
    model
        .hidden()
        .iter()
        .map(|&n| {
            let fact: f64 = (1..=n).map(|k| k as f64).product();
            if flips {
                fact * 2f64.powi(n as i32)
            } else {
                fact
            }
        })
        .product()
}

/// log₁₀ |G|, finite where |G| itself overflows float64 (about 170 units: 170! > 10³⁰⁸).
pub fn group_order_log10(model: &Model) -> f64 {
    let flips = has_flips(model);
    model
        .hidden()
        .iter()
        .map(|&n| {
            let fact: f64 = (1..=n).map(|k| (k as f64).log10()).sum();
            if flips {
                fact + n as f64 * 2f64.log10()
            } else {
                fact
            }
        })
        .sum()
}

/// One element of G: for each hidden layer, a permutation (new unit i is old unit `perm[i]`)
/// and a flip per new unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupElement {
    /// Per hidden layer, the permutation of its units.
    pub perms: Vec<Vec<usize>>,
    /// Per hidden layer, whether each (new) unit is flipped.
    pub flips: Vec<Vec<bool>>,
}

impl GroupElement {
    /// The identity of G for `model`.
    pub fn identity(model: &Model) -> GroupElement {
        GroupElement {
            perms: model.hidden().iter().map(|&n| (0..n).collect()).collect(),
            flips: model.hidden().iter().map(|&n| vec![false; n]).collect(),
        }
    }

    /// A uniformly random element, drawn from the 64-bit words `next` yields.
    pub fn random(model: &Model, mut next: impl FnMut() -> u64) -> GroupElement {
        let flips_ok = has_flips(model);
        let mut g = GroupElement::identity(model);
        for (perm, flips) in g.perms.iter_mut().zip(&mut g.flips) {
            // Fisher–Yates.
            for i in (1..perm.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                perm.swap(i, j);
            }
            for f in flips.iter_mut() {
                *f = flips_ok && next() & 1 == 1;
            }
        }
        g
    }

    /// g·θ: the parameters of the network with hidden units permuted and flipped.
    pub fn apply(&self, model: &Model, theta: &[f64]) -> Vec<f64> {
        let layout = model.layout();
        let mut out = theta.to_vec();
        for (h, (perm, flips)) in self.perms.iter().zip(&self.flips).enumerate() {
            // Hidden layer h is the output of weight layer h and the input of weight layer h + 1.
            let (inl, outl) = (layout[h], layout[h + 1]);
            let src = out.clone();
            for (i, (&old, &flip)) in perm.iter().zip(flips).enumerate() {
                let s = if flip { -1.0 } else { 1.0 };
                for j in 0..inl.inputs {
                    out[inl.w + i * inl.inputs + j] = s * src[inl.w + old * inl.inputs + j];
                }
                if let Some(b) = inl.b {
                    out[b + i] = s * src[b + old];
                }
                for k in 0..outl.outputs {
                    out[outl.w + k * outl.inputs + i] = s * src[outl.w + k * outl.inputs + old];
                }
            }
            if model.act == Activation::Sigmoid
                && let Some(c) = outl.b
            {
                // σ(−z) = 1 − σ(z): the flipped unit's old outgoing weight moves into the bias.
                for (&old, _) in perm.iter().zip(flips).filter(|(_, f)| **f) {
                    for k in 0..outl.outputs {
                        out[c + k] += src[outl.w + k * outl.inputs + old];
                    }
                }
            }
        }
        out
    }
}

/// ReLU's continuous symmetry removed: each hidden ReLU unit's incoming weights and bias are
/// scaled to unit norm and its outgoing weights by the inverse factor (a positive rescaling leaves
/// the function unchanged). Other activations are returned as they are.
pub fn normalise(model: &Model, theta: &[f64]) -> Vec<f64> {
    let mut out = theta.to_vec();
    if model.act != Activation::Relu {
        return out;
    }
    let layout = model.layout();
    for h in 0..model.hidden().len() {
        let (inl, outl) = (layout[h], layout[h + 1]);
        for i in 0..inl.outputs {
            let mut sq: f64 = (0..inl.inputs)
                .map(|j| out[inl.w + i * inl.inputs + j].powi(2))
                .sum();
            if let Some(b) = inl.b {
                sq += out[b + i].powi(2);
            }
            let norm = sq.sqrt();
            if norm == 0.0 {
                continue;
            }
            for j in 0..inl.inputs {
                out[inl.w + i * inl.inputs + j] /= norm;
            }
            if let Some(b) = inl.b {
                out[b + i] /= norm;
            }
            for k in 0..outl.outputs {
                out[outl.w + k * outl.inputs + i] *= norm;
            }
        }
    }
    out
}

/// The largest absolute difference between two parameter vectors.
pub fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// The element g of G that best maps `a` onto `b`, and ‖g·a − b‖∞. Layer by layer, units of `a`
/// are matched to units of `b` as a whole by a minimum-cost assignment over their incoming
/// weights and bias (and, for the last hidden layer, their outgoing weights), each with the sign
/// that fits it best where flips are allowed.
pub fn align(model: &Model, a: &[f64], b: &[f64]) -> (GroupElement, f64) {
    let layout = model.layout();
    let flips_ok = has_flips(model);
    let hidden = model.hidden().len();
    let mut g = GroupElement::identity(model);
    for h in 0..hidden {
        // Apply what is decided so far, so that this layer's incoming columns line up.
        let moved = g.apply(model, a);
        let (inl, outl) = (layout[h], layout[h + 1]);
        let n = inl.outputs;
        let last = h + 1 == hidden;
        let unit = |t: &[f64], i: usize, s: f64| -> Vec<f64> {
            let mut v: Vec<f64> = (0..inl.inputs)
                .map(|j| s * t[inl.w + i * inl.inputs + j])
                .collect();
            if let Some(bb) = inl.b {
                v.push(s * t[bb + i]);
            }
            if last {
                v.extend((0..outl.outputs).map(|k| s * t[outl.w + k * outl.inputs + i]));
            }
            v
        };
        let mut cost = vec![0.0; n * n];
        let mut sign = vec![false; n * n];
        for i in 0..n {
            let target = unit(b, i, 1.0);
            for j in 0..n {
                let d = |s: f64| -> f64 {
                    unit(&moved, j, s)
                        .iter()
                        .zip(&target)
                        .map(|(x, y)| (x - y).powi(2))
                        .sum()
                };
                let (plain, flipped) = (d(1.0), if flips_ok { d(-1.0) } else { f64::INFINITY });
                // Row i is b's unit i, column j the unit of `a` that may become it.
                cost[i * n + j] = plain.min(flipped);
                sign[i * n + j] = flipped < plain;
            }
        }
        let choice = assign(&cost, n);
        let old_perm = g.perms[h].clone();
        let old_flips = g.flips[h].clone();
        for i in 0..n {
            let j = choice[i];
            g.perms[h][i] = old_perm[j];
            g.flips[h][i] = old_flips[j] ^ sign[i * n + j];
        }
    }
    let d = distance(&g.apply(model, a), b);
    (g, d)
}

/// Every element of G (for small groups: |G| elements are listed).
pub fn elements(model: &Model) -> Vec<GroupElement> {
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for pos in 0..n {
                let mut q = p.clone();
                q.insert(pos, n - 1);
                out.push(q);
            }
        }
        out
    }
    let flips_ok = has_flips(model);
    let mut all = vec![GroupElement {
        perms: Vec::new(),
        flips: Vec::new(),
    }];
    for &n in model.hidden() {
        let signs: Vec<Vec<bool>> = if flips_ok {
            (0..1u64 << n)
                .map(|m| (0..n).map(|i| m >> i & 1 == 1).collect())
                .collect()
        } else {
            vec![vec![false; n]]
        };
        let perms = permutations(n);
        let mut next = Vec::with_capacity(all.len() * perms.len() * signs.len());
        for g in &all {
            for p in &perms {
                for f in &signs {
                    let mut e = g.clone();
                    e.perms.push(p.clone());
                    e.flips.push(f.clone());
                    next.push(e);
                }
            }
        }
        all = next;
    }
    all
}

/// Largest |G| whose elements `stabilizer_order` lists one by one.
pub const ENUMERABLE_ORDER: f64 = 200_000.0;

/// |Stab(θ)|: the number of g in G with ‖g·θ − θ‖∞ ≤ tol. Counted element by element when
/// |G| ≤ `ENUMERABLE_ORDER`; beyond, per hidden layer as the product over groups of units equal
/// up to sign of k! (times 2^k for units that are entirely zero), which is exact for one hidden
/// layer and ignores coincidences that span layers.
pub fn stabilizer_order(model: &Model, theta: &[f64], tol: f64) -> f64 {
    if group_order(model) <= ENUMERABLE_ORDER {
        return elements(model)
            .iter()
            .filter(|g| distance(&g.apply(model, theta), theta) <= tol)
            .count() as f64;
    }
    let layout = model.layout();
    let flips_ok = has_flips(model);
    let mut order = 1.0;
    for h in 0..model.hidden().len() {
        let (inl, outl) = (layout[h], layout[h + 1]);
        let unit = |i: usize| -> Vec<f64> {
            let mut v: Vec<f64> = (0..inl.inputs)
                .map(|j| theta[inl.w + i * inl.inputs + j])
                .collect();
            if let Some(b) = inl.b {
                v.push(theta[b + i]);
            }
            v.extend((0..outl.outputs).map(|k| theta[outl.w + k * outl.inputs + i]));
            v
        };
        let units: Vec<Vec<f64>> = (0..inl.outputs).map(unit).collect();
        let mut seen = vec![false; units.len()];
        for i in 0..units.len() {
            if seen[i] {
                continue;
            }
            let mut k = 0;
            for j in i..units.len() {
                let same = distance(&units[i], &units[j]) <= tol;
                let negated = flips_ok
                    && units[i]
                        .iter()
                        .zip(&units[j])
                        .all(|(x, y)| (x + y).abs() <= tol);
                if !seen[j] && (same || negated) {
                    seen[j] = true;
                    k += 1;
                }
            }
            let zero = units[i].iter().all(|x| x.abs() <= tol);
            order *= (1..=k).map(|v| v as f64).product::<f64>()
                * if zero && flips_ok { 2f64.powi(k) } else { 1.0 };
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_orders_follow_the_formula() {
        let m = |w: &str, a: Activation, bias: bool| {
            Model::new(w, a, Activation::Linear, bias).expect("valid")
        };
        assert_eq!(group_order(&m("2-3-1", Activation::Tanh, true)), 48.0);
        assert_eq!(group_order(&m("2-2-1", Activation::Tanh, true)), 8.0);
        assert_eq!(group_order(&m("2-3-1", Activation::Relu, true)), 6.0);
        assert_eq!(group_order(&m("2-3-1", Activation::Sigmoid, false)), 6.0);
        assert_eq!(
            group_order(&m("2-4-4-1", Activation::Tanh, true)),
            (24.0 * 16.0) * (24.0 * 16.0)
        );
        assert_eq!(group_order(&m("3-1", Activation::Tanh, true)), 1.0);
    }

    fn random_theta(model: &Model, seed: u64) -> Vec<f64> {
        use landscape_core::rng::{Stream, normal};
        (0..model.parameter_count())
            .map(|i| normal(seed, Stream::Start, i as u64))
            .collect()
    }

    #[test]
    fn alignment_recovers_a_random_group_element() {
        for (w, act) in [
            ("2-3-1", Activation::Tanh),
            ("2-4-2", Activation::Sigmoid),
            ("2-3-3-1", Activation::Tanh),
            ("3-4-1", Activation::Relu),
        ] {
            let m = Model::new(w, act, Activation::Linear, true).expect("valid");
            let theta = normalise(&m, &random_theta(&m, 3));
            let mut k = 0u64;
            for trial in 0..20 {
                let g = GroupElement::random(&m, || {
                    k += 1;
                    landscape_core::rng::word(trial, landscape_core::rng::Stream::Start, k)
                });
                let moved = g.apply(&m, &theta);
                let (_, d) = align(&m, &moved, &theta);
                assert!(d < 1e-12, "{m}: aligned distance {d}");
            }
        }
    }

    #[test]
    fn enumerated_elements_number_the_group_order() {
        for w in ["2-3-1", "2-2-2-1", "2-1"] {
            let m = Model::new(w, Activation::Tanh, Activation::Linear, true).expect("valid");
            assert_eq!(elements(&m).len() as f64, group_order(&m));
        }
    }

    #[test]
    fn duplicated_units_enlarge_the_stabilizer() {
        let m = Model::new("2-3-1", Activation::Tanh, Activation::Linear, true).expect("valid");
        let mut theta = random_theta(&m, 5);
        assert_eq!(stabilizer_order(&m, &theta, 1e-9), 1.0);
        // Unit 1 := unit 0 (incoming weights, bias, outgoing weight).
        theta[2] = theta[0];
        theta[3] = theta[1];
        theta[7] = theta[6];
        theta[10] = theta[9];
        assert_eq!(stabilizer_order(&m, &theta, 1e-9), 2.0);
        // Unit 2 := −unit 0: now units 0, 1, 2 are equal up to sign.
        theta[4] = -theta[0];
        theta[5] = -theta[1];
        theta[8] = -theta[6];
        theta[11] = -theta[9];
        assert_eq!(stabilizer_order(&m, &theta, 1e-9), 6.0);
    }
}
