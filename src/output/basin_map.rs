//! The picture of a basin map: each pixel coloured by where its walker ended, with a legend.

use crate::analysis::basins::{Reason, Report};
use crate::analysis::stationary::Kind;
use crate::backend::WalkOutput;
use crate::output::plot::{self, LegendKey, MapLegendEntry, MapPixel, Neutral};
use crate::run::ColorBy;
use crate::spec::walk::Status;

/// Pixels and legend of a basin map.
/// `score` is every walker's convergence score (`output::score`), for `ColorBy::Score`.
pub fn picture(
    color: ColorBy,
    shade: bool,
    walked: &WalkOutput,
    report: &Report,
    score: Option<&[f32]>,
) -> (
    Vec<MapPixel>,
    Vec<MapLegendEntry>,
    Option<plot::ScalarBar<'static>>,
) {
    let m = walked.status.len();
    let max_steps = walked.steps.iter().copied().max().unwrap_or(1).max(1) as f32;
    let mut loss_range = (0.0f32, 1.0f32);
    // A walker in no class: why, from the analysis (the flow may have taken a walker still
    // moving to infinity), else from its status.
    let neutral = |w: usize| {
        MapPixel::Neutral(match report.reasons.get(w).copied() {
            Some(r) if r == Reason::AtInfinity as u8 => Neutral::Diverged,
            Some(r) if r == Reason::StillMoving as u8 => Neutral::Unconverged,
            Some(r) if r == Reason::NonFinite as u8 => Neutral::NoClass,
            _ => match Status::from_code(walked.status[w]) {
                Some(Status::Diverged) => Neutral::Diverged,
                Some(Status::MaxSteps) => Neutral::Unconverged,
                _ => Neutral::NoClass,
            },
        })
    };
    let mut legend = Vec::new();
    let pixels: Vec<MapPixel> = match color {
        ColorBy::Class | ColorBy::Copy => {
            // Stationary classes take the palette's hues in order; plateaus, which are not
            // stationary points, take pale hues after the stationary classes' (legend: the
            // stationary classes first).
            let mut by_colour: Vec<usize> = (0..report.classes.len()).collect();
            by_colour.sort_by_key(|&c| (report.classes[c].kind == Kind::Plateau, c));
            let stationary = report
                .classes
                .iter()
                .filter(|c| c.kind != Kind::Plateau)
                .count();
            let mut colour = vec![0; report.classes.len()];
            for (k, &c) in by_colour.iter().enumerate() {
                colour[c] = if k < stationary { k } else { plot::PALE + k };
            }
            for &c in by_colour.iter().take(15) {
                let c = &report.classes[c];
                let copies = match c.copies_expected {
                    Some(e) => format!("{} of {e} copies", c.copies_found),
                    None if c.kind == Kind::Plateau => "not a stationary point".to_string(),
                    None => "a manifold".to_string(),
                };
                legend.push(MapLegendEntry {
                    key: LegendKey::Class(colour[c.id]),
                    text: format!(
                        "class {} · {} · L = {:.3e} · {copies} · {:.1}%",
                        c.id,
                        c.kind,
                        c.loss,
                        100.0 * c.fraction
                    ),
                });
            }
            (0..m)
                .map(|w| {
                    let (class, copy) = (report.labels[2 * w], report.labels[2 * w + 1]);
                    if class < 0 {
                        return neutral(w);
                    }
                    MapPixel::Class {
                        class: colour
                            .get(class as usize)
                            .copied()
                            .unwrap_or(class as usize),
                        copy: (color == ColorBy::Copy && copy >= 0).then_some(copy as usize),
                        shade: if shade {
                            0.8 * walked.steps[w] as f32 / max_steps
                        } else {
                            0.0
                        },
                    }
                })
                .collect()
        }
        ColorBy::Status => {
            // Only the statuses that occur, with their counts, as the neutral rows below.
            for (class, status) in [(0, Status::Converged), (1, Status::MaxSteps)] {
                let n = walked
                    .status
                    .iter()
                    .filter(|&&s| Status::from_code(s) == Some(status))
                    .count();
                if n > 0 {
                    legend.push(MapLegendEntry {
                        key: LegendKey::Class(class),
                        text: format!(
                            "{} · {n} ({:.1}%)",
                            status.name(),
                            100.0 * n as f64 / m.max(1) as f64
                        ),
                    });
                }
            }
            (0..m)
                .map(|w| match Status::from_code(walked.status[w]) {
                    Some(Status::Converged) => MapPixel::Class {
                        class: 0,
                        copy: None,
                        shade: 0.0,
                    },
                    Some(Status::MaxSteps) => MapPixel::Class {
                        class: 1,
                        copy: None,
                        shade: 0.0,
                    },
                    _ => neutral(w),
                })
                .collect()
        }
        ColorBy::Loss => {
            let logs: Vec<f32> = walked.loss.iter().map(|l| l.max(1e-30).log10()).collect();
            let (lo, hi) = logs
                .iter()
                .filter(|v| v.is_finite())
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            let span = (hi - lo).max(1e-6);
            loss_range = (lo, lo + span);
            (0..m)
                .map(|w| {
                    if walked.loss[w].is_finite() {
                        MapPixel::Scalar((logs[w] - lo) / span)
                    } else {
                        neutral(w)
                    }
                })
                .collect()
        }
        ColorBy::Steps => (0..m)
            .map(|w| MapPixel::Scalar(walked.steps[w] as f32 / max_steps))
            .collect(),
        ColorBy::Diverged => {
            let trained = |w: usize| {
                matches!(
                    Status::from_code(walked.status[w]),
                    Some(Status::Converged | Status::MaxSteps)
                ) && walked.loss[w].is_finite()
            };
            let n = (0..m).filter(|&w| trained(w)).count();
            if n > 0 {
                legend.push(MapLegendEntry {
                    key: LegendKey::Class(0),
                    text: format!(
                        "trained (converged or still moving) · {n} ({:.1}%)",
                        100.0 * n as f64 / m.max(1) as f64
                    ),
                });
            }
            (0..m)
                .map(|w| {
                    if trained(w) {
                        MapPixel::Class {
                            class: 0,
                            copy: None,
                            shade: 0.0,
                        }
                    } else if walked.status[w] == Status::NonFinite as u32 {
                        MapPixel::Neutral(Neutral::NoClass)
                    } else {
                        MapPixel::Neutral(Neutral::Diverged)
                    }
                })
                .collect()
        }
        ColorBy::Score => (0..m)
            .map(|w| {
                let s = score.and_then(|s| s.get(w)).copied().unwrap_or(f32::NAN);
                MapPixel::Scalar(0.5 * (s + 1.0))
            })
            .collect(),
    };
    // Neutral rows, counted from the pixels drawn: only the kinds that occur.
    let mut counts = [0u64; 3];
    for px in &pixels {
        if let MapPixel::Neutral(n) = px {
            counts[Neutral::ALL.iter().position(|k| k == n).unwrap_or(0)] += 1;
        }
    }
    for (n, count) in Neutral::ALL.into_iter().zip(counts) {
        if count == 0 {
            continue;
        }
        let what = match (n, color) {
            (Neutral::Diverged, _) => "diverged",
            (Neutral::NoClass, ColorBy::Class | ColorBy::Copy) => {
                "no class (stopped where nothing is stationary, or non-finite)"
            }
            (Neutral::NoClass, _) => "non-finite",
            (Neutral::Unconverged, _) if report.flow.is_some() => {
                "no class, still moving (after the flow's horizon, or unplaced)"
            }
            (Neutral::Unconverged, _) => "no class, still moving at the step budget",
        };
        legend.push(MapLegendEntry {
            key: LegendKey::Neutral(n),
            text: format!(
                "{what} · {count} ({:.1}%)",
                100.0 * count as f64 / m.max(1) as f64
            ),
        });
    }
    // The colour bar in the quantity's own units: log10 L from its lowest to its highest, or steps.
    let scalar = match color {
        ColorBy::Loss => Some(plot::ScalarBar {
            label: "log10 L",
            lo: f64::from(loss_range.0),
            hi: f64::from(loss_range.1),
        }),
        ColorBy::Steps => Some(plot::ScalarBar {
            label: "steps",
            lo: 0.0,
            hi: f64::from(max_steps),
        }),
        ColorBy::Score => Some(plot::ScalarBar {
            label: "convergence score",
            lo: -1.0,
            hi: 1.0,
        }),
        _ => None,
    };
    (pixels, legend, scalar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::basins::Unassigned;

    /// A walker in class 0, one diverged, one still moving at the step budget, one non-finite.
    fn walk_and_report() -> (WalkOutput, Report) {
        let status = [
            Status::Converged,
            Status::Diverged,
            Status::MaxSteps,
            Status::NonFinite,
        ];
        let walked = WalkOutput {
            endpoints: vec![0.0; 4],
            loss: vec![0.0, 1.0, 0.5, f32::NAN],
            grad_norm: vec![0.0; 4],
            steps: vec![10, 3, 100, 7],
            status: status.iter().map(|&s| s as u32).collect(),
            trace: None,
        };
        let report = Report {
            group_order: 1.0,
            group_order_log10: 0.0,
            cluster_cap: crate::analysis::basins::MAX_CLUSTERS,
            walkers: 4,
            classes: Vec::new(),
            unassigned: Unassigned {
                at_infinity: 1,
                non_finite: 1,
                not_stationary: 1,
                unconverged: 1,
                ..Unassigned::default()
            },
            labels: vec![0, 0, -1, -1, -1, -1, -1, -1],
            ..Report::default()
        };
        (walked, report)
    }

    #[test]
    fn diverged_unconverged_and_unplaced_walkers_get_distinct_neutral_colours() {
        let (walked, report) = walk_and_report();
        let (px, legend, _) = picture(ColorBy::Class, false, &walked, &report, None);
        assert!(matches!(px[0], MapPixel::Class { class: 0, .. }));
        let neutral = [Neutral::Diverged, Neutral::Unconverged, Neutral::NoClass];
        assert_eq!(px[1..], neutral.map(MapPixel::Neutral));
        let colours: std::collections::HashSet<_> = neutral.iter().map(|n| n.color()).collect();
        assert_eq!(colours.len(), 3);
        let rows: Vec<_> = legend.iter().map(|e| (e.key, e.text.as_str())).collect();
        assert_eq!(
            rows,
            [
                (
                    LegendKey::Neutral(Neutral::Diverged),
                    "diverged · 1 (25.0%)"
                ),
                (
                    LegendKey::Neutral(Neutral::NoClass),
                    "no class (stopped where nothing is stationary, or non-finite) · 1 (25.0%)"
                ),
                (
                    LegendKey::Neutral(Neutral::Unconverged),
                    "no class, still moving at the step budget · 1 (25.0%)"
                ),
            ]
        );
        // By status, max-steps walkers have a colour of their own; only the non-finite one and
        // the diverged one are neutral.
        let (px, legend, _) = picture(ColorBy::Status, false, &walked, &report, None);
        assert!(matches!(px[2], MapPixel::Class { class: 1, .. }));
        assert_eq!(px[3], MapPixel::Neutral(Neutral::NoClass));
        assert!(legend.iter().any(|e| e.text == "non-finite · 1 (25.0%)"));
        assert!(!legend.iter().any(|e| e.text.contains("still moving")));
        assert!(legend.iter().any(|e| e.text == "converged · 1 (25.0%)"));
        assert!(legend.iter().any(|e| e.text == "max-steps · 1 (25.0%)"));
        // A status no walker has is not in the legend.
        let mut none_converged = walked.clone();
        none_converged.status[0] = Status::MaxSteps as u32;
        let (_, legend, _) = picture(ColorBy::Status, false, &none_converged, &report, None);
        assert!(!legend.iter().any(|e| e.text.starts_with("converged")));
        // Scalar maps carry their colour bar in real units.
        let (_, _, bar) = picture(ColorBy::Loss, false, &walked, &report, None);
        let bar = bar.expect("a colour bar");
        assert_eq!(bar.label, "log10 L");
        // log10 of the finite losses 0 (clamped to 1e-30), 1 and 0.5.
        assert_eq!((bar.lo, bar.hi), (-30.0, 0.0));
        let (_, _, bar) = picture(ColorBy::Steps, false, &walked, &report, None);
        assert_eq!(bar.map(|b| b.hi), Some(100.0));
    }
}
