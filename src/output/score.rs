//! The convergence score of a map's walkers (`landscape map --color score`): one number in
//! [−1, 1] per pixel that says how well training went from there, from the walk's own outputs.
//!
//! With S the steps a walker may take (`--steps`, or the `--extend` total), a walker that
//! - converged (‖∇L‖ < tol) after k steps scores 1 − k/(2S), in (½, 1]: the sooner, the higher;
//! - was still moving after its S steps scores ½·max(0, 1 − L_end/L_start), in [0, ½): the
//!   fraction of its starting loss it shed;
//! - diverged or went non-finite after k steps scores −(1 − k/S), in [−1, 0]: the sooner, the
//!   lower.
//!
//! So 0 parts the walkers that trained from those that blew up, as in the learning-rate maps of
//! Sohl-Dickstein (2024). L_start is the float64 loss at the walker's float32 start.

use crate::backend::WalkOutput;
use crate::reference;
use crate::spec::data::Dataset;
use crate::spec::model::Model;
use crate::spec::walk::Status;
use rayon::prelude::*;
use std::collections::HashMap;

/// The score of every walker; `start_loss[w]` is L at walker w's start, `budget` is S.
pub fn scores(walked: &WalkOutput, start_loss: &[f64], budget: u32) -> Vec<f32> {
    let s = f64::from(budget.max(1));
    (0..walked.status.len())
        .map(|w| {
            let k = f64::from(walked.steps[w]).min(s);
            let score = match Status::from_code(walked.status[w]) {
                Some(Status::Converged) => 1.0 - k / (2.0 * s),
                Some(Status::MaxSteps) => {
                    let (end, start) = (f64::from(walked.loss[w]), start_loss[w]);
                    if end.is_finite() && start > 0.0 {
                        0.5 * (1.0 - end / start).clamp(0.0, 1.0)
                    } else {
                        0.0
                    }
                }
                _ => -(1.0 - k / s),
            };
            score as f32
        })
        .collect()
}

/// The score of every pixel of a map (all of them, in the slice's order).
pub fn map_scores(spec: &crate::run::MapSpec, walked: &WalkOutput) -> Vec<f32> {
    let starts: Vec<f32> = (0..spec.slice.len())
        .flat_map(|g| spec.slice.point(g).into_iter().map(|v| v as f32))
        .collect();
    let start_loss = start_losses(&spec.problem.model, spec.problem.dataset(), &starts);
    let budget = spec.finish.extend.unwrap_or(spec.descent.steps);
    scores(walked, &start_loss, budget)
}

/// L in float64 at each start (M × P, float32), each distinct start evaluated once: a map over
/// learning rates alone has one.
pub fn start_losses(model: &Model, data: &Dataset, starts: &[f32]) -> Vec<f64> {
    let p = model.parameter_count().max(1);
    let mut first: HashMap<Vec<u32>, usize> = HashMap::new();
    let mut which = Vec::with_capacity(starts.len() / p);
    let mut distinct = Vec::new();
    for row in starts.chunks_exact(p) {
        let key: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
        let next = distinct.len();
        let k = *first.entry(key).or_insert_with(|| {
            distinct.push(row);
            next
        });
        which.push(k);
    }
    let losses: Vec<f64> = distinct
        .par_iter()
        .map(|row| {
            let theta: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            reference::loss(model, data, &theta)
        })
        .collect();
    which.into_iter().map(|k| losses[k]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_order_converged_moving_and_diverged_walkers() {
        let walked = WalkOutput {
            endpoints: Vec::new(),
            loss: vec![0.0, 1.0, 0.25, f32::NAN, 9.0, 3.0],
            grad_norm: Vec::new(),
            steps: vec![0, 100, 100, 0, 50, 100],
            status: vec![
                Status::Converged as u32,
                Status::Converged as u32,
                Status::MaxSteps as u32,
                Status::NonFinite as u32,
                Status::Diverged as u32,
                Status::MaxSteps as u32,
            ],
            trace: None,
        };
        let s = scores(&walked, &[1.0; 6], 100);
        assert_eq!(s, vec![1.0, 0.5, 0.375, -1.0, -0.5, 0.0]);
    }

    #[test]
    fn equal_starts_are_evaluated_once_and_shared() {
        let model = Model::new(
            "1-1",
            crate::spec::model::Activation::Linear,
            crate::spec::model::Activation::Linear,
            true,
        )
        .expect("model");
        let data = Dataset::new(1, 1, vec![1.0, 2.0], vec![1.0, 0.0]).expect("data");
        let starts = [0.5f32, 0.0, 1.0, 1.0, 0.5, 0.0];
        let l = start_losses(&model, &data, &starts);
        assert_eq!(l[0], l[2]);
        let direct = reference::loss(&model, &data, &[1.0, 1.0]);
        assert_eq!(l[1], direct);
    }
}
