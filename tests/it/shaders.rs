//! Every shader parses and validates with naga, without an adapter, in both of its variants
//! (data read from storage, data staged in workgroup memory; naga's uniformity analysis checks
//! that the staging barrier is reached in uniform control flow).

use crate::common::model;
use landscape::backend::KernelModel;
use landscape::backend::gpu::shader::{Kernel, Variant, source};
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
            let km = KernelModel::new(&m);
            let staged = Variant {
                workgroup_size: 96,
                staged: 37,
                ..Variant::PORTABLE
            };
            let unrolled = Variant {
                unrolled: true,
                ..staged
            };
            let mut variants = vec![Variant::PORTABLE, staged, unrolled];
            // Units shared along lattice rows: one-hidden-layer networks only.
            if km.widths.len() == 3 {
                let mask = 0b101 & ((1u32 << km.widths[1]) - 1);
                for base in [Variant::PORTABLE, staged, unrolled] {
                    variants.push(Variant {
                        shared_units: mask,
                        samples: 23,
                        ..base
                    });
                }
            }
            for (kernel, variant) in Kernel::ALL
                .into_iter()
                .flat_map(|k| variants.iter().map(move |&v| (k, v)))
            {
                let src = source(kernel, &km, variant);
                let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| {
                    panic!(
                        "{} ({variant:?}) for {m} does not parse:\n{}",
                        kernel.name(),
                        e.emit_to_string(&src)
                    )
                });
                naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::default(),
                )
                .validate(&module)
                .unwrap_or_else(|e| {
                    panic!(
                        "{} ({variant:?}) for {m} does not validate: {e:?}",
                        kernel.name()
                    )
                });
            }
        }
    }
}
