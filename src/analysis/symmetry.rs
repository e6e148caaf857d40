//! The symmetry group G of a model: per hidden layer, the permutations of its units and, where
//! the activation allows it, a sign flip per unit. Every g in G leaves the network's function,
//! and so the loss, unchanged.
//!
//! Flips: tanh and linear units map (w, b, v) → (−w, −b, −v), with w, b the unit's incoming
//! weights and bias and v its outgoing weights. Sigmoid units use σ(−z) = 1 − σ(z): (w, b, v, c) →
//! (−w, −b, −v, c + v), which needs the next layer's bias c. ReLU and softplus have no flip (ReLU's
//! continuous positive rescaling is not part of this finite group).

use crate::spec::model::{Activation, Model};

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
}
