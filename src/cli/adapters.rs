//! `landscape adapters`: the adapters `--adapter` can pick.

use crate::backend::gpu::{adapters, is_software};

/// Prints one line per adapter.
pub fn run() -> anyhow::Result<()> {
    let all = adapters();
    if all.is_empty() {
        println!("no GPU adapters found; --backend auto will use the CPU");
    }
    for a in all {
        println!(
            "{}: {} ({:?}, {:?}{})",
            a.index,
            a.info.name,
            a.info.device_type,
            a.info.backend,
            if is_software(&a.info) {
                ", software adapter"
            } else {
                ""
            }
        );
    }
    Ok(())
}
