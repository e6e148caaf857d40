//! The model: a fully connected network, its activations, and the flat parameter vector θ with
//! its one documented order and naming scheme.
//!
//! For layer l = 1..L (mapping width n_{l-1} to n_l), θ holds the weight matrix `wl` row-major
//! (out × in, so `wl[i,j]` connects unit j of layer l−1 to unit i of layer l), then the bias `bl`
//! (absent with `--no-bias`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An activation function, applied elementwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Hyperbolic tangent; odd, so each unit can flip its sign.
    Tanh,
    /// Logistic sigmoid 1/(1+e^−z); σ(−z) = 1 − σ(z) gives an affine sign flip.
    Sigmoid,
    /// max(0, z); positively homogeneous, so each unit can be rescaled.
    Relu,
    /// ln(1 + e^z).
    Softplus,
    /// The identity.
    Linear,
}

impl Activation {
    /// All activations, in the order of their shader codes.
    pub const ALL: [Activation; 5] = [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Relu,
        Activation::Softplus,
        Activation::Linear,
    ];

    /// The name used in flags and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::Softplus => "softplus",
            Activation::Linear => "linear",
        }
    }

    /// The integer code the shaders and the CPU kernels switch on (keep in sync with common.wgsl).
    pub const fn code(self) -> u32 {
        match self {
            Activation::Tanh => 0,
            Activation::Sigmoid => 1,
            Activation::Relu => 2,
            Activation::Softplus => 3,
            Activation::Linear => 4,
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown activation '{s}'; expected one of tanh, sigmoid, relu, softplus, linear"))
    }
}

/// A fully connected network: layer widths, hidden and output activations, biases on or off.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Model {
    /// Layer widths from input to output, at least two entries, all positive.
    pub widths: Vec<usize>,
    /// Activation of every hidden layer.
    pub act: Activation,
    /// Activation of the output layer (linear, sigmoid or tanh).
    pub out_act: Activation,
    /// Whether every layer has a bias vector.
    pub bias: bool,
}

/// Where one layer's parameters sit in θ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerLayout {
    /// Width of the layer's input.
    pub inputs: usize,
    /// Width of the layer's output.
    pub outputs: usize,
    /// Offset of the weight matrix (row-major, outputs × inputs).
    pub w: usize,
    /// Offset of the bias vector, if the model has biases.
    pub b: Option<usize>,
}

/// Largest total number of units and parameters accepted: the kernels keep one network's
/// activations and gradient in private memory, and bigger nets are out of scope (SPEC non-goals).
pub const MAX_PARAMETERS: usize = 4096;

impl Model {
    /// Parses `--model 2-3-1` together with the activation flags.
    pub fn new(widths: &str, act: Activation, out_act: Activation, bias: bool) -> Result<Model> {
        let flag = "--model";
        let parts: Vec<&str> = widths.split('-').collect();
        if parts.len() < 2 {
            return Err(Error::spec(
                flag,
                format!("'{widths}' has no layers; expected widths joined by '-', e.g. 2-3-1"),
            ));
        }
        let mut ws = Vec::with_capacity(parts.len());
        for p in parts {
            match p.trim().parse::<usize>() {
                Ok(w) if w > MAX_PARAMETERS => {
                    return Err(Error::spec(
                        flag,
                        format!(
                            "layer width {w} in '{widths}' is too large; at most {MAX_PARAMETERS} parameters are supported"
                        ),
                    ));
                }
                Ok(w) if w > 0 => ws.push(w),
                _ => {
                    return Err(Error::spec(
                        flag,
                        format!(
                            "'{p}' in '{widths}' is not a positive layer width; expected e.g. 2-3-1"
                        ),
                    ));
                }
            }
        }
        if !matches!(
            out_act,
            Activation::Linear | Activation::Sigmoid | Activation::Tanh
        ) {
            return Err(Error::spec(
                "--out-act",
                format!(
                    "'{out_act}' is not an output activation; expected linear, sigmoid or tanh"
                ),
            ));
        }
        let model = Model {
            widths: ws,
            act,
            out_act,
            bias,
        };
        if model.parameter_count() > MAX_PARAMETERS {
            return Err(Error::spec(
                flag,
                format!(
                    "'{widths}' has {} parameters; at most {MAX_PARAMETERS} are supported",
                    model.parameter_count()
                ),
            ));
        }
        Ok(model)
    }

    /// Number of weight layers L.
    pub fn layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.widths[0]
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.widths[self.widths.len() - 1]
    }

    /// Widths of the hidden layers (empty for linear regression).
    pub fn hidden(&self) -> &[usize] {
        &self.widths[1..self.widths.len() - 1]
    }

    /// The activation applied by weight layer `l` (0-based): hidden layers use `act`, the last
    /// uses `out_act`.
    pub fn activation(&self, l: usize) -> Activation {
        if l + 1 == self.layers() {
            self.out_act
        } else {
            self.act
        }
    }

    /// Where each layer's parameters sit in θ.
    pub fn layout(&self) -> Vec<LayerLayout> {
        let mut offset = 0;
        let mut out = Vec::with_capacity(self.layers());
        for l in 0..self.layers() {
            let (inputs, outputs) = (self.widths[l], self.widths[l + 1]);
            let w = offset;
            offset += inputs * outputs;
            let b = self.bias.then(|| {
                let b = offset;
                offset += outputs;
                b
            });
            out.push(LayerLayout {
                inputs,
                outputs,
                w,
                b,
            });
        }
        out
    }

    /// The weight layer (0-based) each parameter belongs to, in θ order: a layer's weights and
    /// its biases, which `layout` places together.
    pub fn layer_of(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.parameter_count());
        for (l, lay) in self.layout().iter().enumerate() {
            let n = lay.inputs * lay.outputs + if lay.b.is_some() { lay.outputs } else { 0 };
            out.extend(std::iter::repeat_n(l, n));
        }
        out
    }

    /// Length P of θ.
    pub fn parameter_count(&self) -> usize {
        // Saturating, so that absurd widths are refused by the size check rather than wrapping.
        self.widths
            .windows(2)
            .map(|w| {
                w[0].saturating_mul(w[1])
                    .saturating_add(if self.bias { w[1] } else { 0 })
            })
            .fold(0, usize::saturating_add)
    }

    /// The user-facing name of parameter `p`: `w1[i,j]` or `b1[i]`, layers counted from 1.
    pub fn parameter_name(&self, p: usize) -> String {
        for (l, lay) in self.layout().iter().enumerate() {
            let wn = lay.inputs * lay.outputs;
            if p >= lay.w && p < lay.w + wn {
                let k = p - lay.w;
                return format!("w{}[{},{}]", l + 1, k / lay.inputs, k % lay.inputs);
            }
            if let Some(b) = lay.b
                && p >= b
                && p < b + lay.outputs
            {
                return format!("b{}[{}]", l + 1, p - b);
            }
        }
        format!("θ[{p}]")
    }

    /// All parameter names in θ order.
    pub fn parameter_names(&self) -> Vec<String> {
        (0..self.parameter_count())
            .map(|p| self.parameter_name(p))
            .collect()
    }

    /// The index in θ of a named parameter such as `w1[0,1]` or `b2[0]`; `flag` names the
    /// flag the name came from, for the error message.
    pub fn parameter_index(&self, name: &str, flag: &str) -> Result<usize> {
        let bad = |why: &str| {
            Error::spec(
                flag,
                format!(
                    "'{name}' {why}; expected a parameter name such as w1[0,1] or b1[0] (layers from 1, units from 0)"
                ),
            )
        };
        let name = name.trim();
        let (kind, rest) = match name.chars().next() {
            Some(c @ ('w' | 'b')) => (c, &name[1..]),
            _ => return Err(bad("is not a parameter name")),
        };
        let open = rest.find('[').ok_or_else(|| bad("has no [index]"))?;
        if !rest.ends_with(']') {
            return Err(bad("has no closing ]"));
        }
        let layer: usize = rest[..open]
            .parse()
            .map_err(|_| bad("has no layer number after its letter"))?;
        let idx: Vec<usize> = rest[open + 1..rest.len() - 1]
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad("has a non-numeric index"))?;
        if layer == 0 || layer > self.layers() {
            return Err(bad(&format!(
                "names layer {layer}, but model {} has layers 1..={}",
                self.widths_string(),
                self.layers()
            )));
        }
        let lay = self.layout()[layer - 1];
        match (kind, idx.as_slice()) {
            ('w', [i, j]) if *i < lay.outputs && *j < lay.inputs => Ok(lay.w + i * lay.inputs + j),
            ('w', [_, _]) => Err(bad(&format!(
                "is out of range; w{layer} has shape {}×{}",
                lay.outputs, lay.inputs
            ))),
            ('b', [i]) => match lay.b {
                Some(b) if *i < lay.outputs => Ok(b + i),
                Some(_) => Err(bad(&format!(
                    "is out of range; b{layer} has length {}",
                    lay.outputs
                ))),
                None => Err(bad("is a bias, but the model has --no-bias")),
            },
            _ => Err(bad("has the wrong number of indices (w takes two, b one)")),
        }
    }

    /// The widths as the user writes them, e.g. `2-3-1`.
    pub fn widths_string(&self) -> String {
        self.widths
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = if self.hidden().is_empty() {
            String::new()
        } else {
            format!("{} hidden, ", self.act)
        };
        write!(
            f,
            "{} ({hidden}{} output{})",
            self.widths_string(),
            self.out_act,
            if self.bias { "" } else { ", no bias" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(w: &str) -> Model {
        Model::new(w, Activation::Tanh, Activation::Linear, true).expect("valid model")
    }

    #[test]
    fn parameter_order_follows_the_documented_layout() {
        let model = m("2-3-1");
        assert_eq!(model.parameter_count(), 13);
        let names = model.parameter_names();
        assert_eq!(names[0], "w1[0,0]");
        assert_eq!(names[1], "w1[0,1]");
        assert_eq!(names[2], "w1[1,0]");
        assert_eq!(names[6], "b1[0]");
        assert_eq!(names[9], "w2[0,0]");
        assert_eq!(names[12], "b2[0]");
        for (p, n) in names.iter().enumerate() {
            assert_eq!(model.parameter_index(n, "--axis").expect("round trip"), p);
        }
    }

    #[test]
    fn no_bias_models_have_only_weights() {
        let model =
            Model::new("1-1-1", Activation::Linear, Activation::Linear, false).expect("valid");
        assert_eq!(model.parameter_names(), vec!["w1[0,0]", "w2[0,0]"]);
        assert!(model.parameter_index("b1[0]", "--axis").is_err());
    }

    #[test]
    fn malformed_models_and_names_are_rejected_with_the_flag() {
        for bad in [
            "2",
            "2-0-1",
            "2-x-1",
            "",
            "-",
            "2--1",
            "1-9223372036854775808-1-1",
            "4294967296-4294967296",
            "1-5000-1",
            "64-64-1",
        ] {
            let err = Model::new(bad, Activation::Tanh, Activation::Linear, true).expect_err(bad);
            assert!(err.to_string().starts_with("--model:"), "{err}");
        }
        let model = m("2-3-1");
        for bad in [
            "w3[0,0]", "w1[3,0]", "w1[0]", "b1[0,0]", "q1[0]", "w1[a,b]", "w1[0,0", "w[0,0]",
            "w0[0,0]",
        ] {
            let err = model.parameter_index(bad, "--axis").expect_err(bad);
            assert!(err.to_string().starts_with("--axis:"), "{err}");
        }
        assert!(Model::new("2-3-1", Activation::Tanh, Activation::Relu, true).is_err());
    }
}
