//! Every shader parses and validates with naga, without an adapter.

use crate::common::model;
use landscape::backend::KernelModel;
use landscape::backend::gpu::shader::{Kernel, source};
use landscape::spec::model::Activation;

#[test]
fn every_shader_validates_with_naga_for_every_model_shape() {
    for (widths, bias) in [
        ("2-3-1", true),
        ("1-1-1", false),
        ("2-1", true),
        ("3-8-8-2", false),
        ("5-4-3-2-1", true),
    ] {
        for act in Activation::ALL {
            let m = model(widths, act, Activation::Sigmoid, bias);
            for kernel in Kernel::ALL {
                let src = source(kernel, &KernelModel::new(&m));
                let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| {
                    panic!(
                        "{} for {m} does not parse:\n{}",
                        kernel.name(),
                        e.emit_to_string(&src)
                    )
                });
                naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::default(),
                )
                .validate(&module)
                .unwrap_or_else(|e| panic!("{} for {m} does not validate: {e:?}", kernel.name()));
            }
        }
    }
}
