//! Lattice-local extrema of a field sampled on a k-dimensional lattice.

/// Flat indices of points strictly below (or, with `maxima`, strictly above) every axis-aligned
/// neighbour that exists; non-finite points are never extrema and never count as neighbours.
pub fn local_extrema(values: &[f32], shape: &[usize], maxima: bool) -> Vec<usize> {
    let strides: Vec<usize> = (0..shape.len())
        .map(|j| shape[j + 1..].iter().product())
        .collect();
    let better = |a: f32, b: f32| if maxima { a > b } else { a < b };
    (0..values.len())
        .filter(|&g| {
            let v = values[g];
            if !v.is_finite() {
                return false;
            }
            let mut has_neighbour = false;
            for (&n, &s) in shape.iter().zip(&strides) {
                let i = (g / s) % n;
                for nb in [i.checked_sub(1), (i + 1 < n).then_some(i + 1)]
                    .into_iter()
                    .flatten()
                {
                    let w = values[g - i * s + nb * s];
                    if w.is_finite() {
                        has_neighbour = true;
                        if !better(v, w) {
                            return false;
                        }
                    }
                }
            }
            has_neighbour
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extrema_of_a_double_well_are_found() {
        let t: Vec<f32> = (0..301).map(|i| -1.5 + 0.01 * i as f32).collect();
        let l: Vec<f32> = t.iter().map(|t| (1.0 - t * t).powi(2)).collect();
        assert_eq!(local_extrema(&l, &[301], false), vec![50, 250]);
        assert_eq!(local_extrema(&l, &[301], true), vec![0, 150, 300]);
    }

    #[test]
    fn two_dimensional_minima_need_all_neighbours_higher() {
        #[rustfmt::skip]
        let v = [
            3.0, 2.0, 3.0,
            2.0, 1.0, 2.0,
            3.0, 2.0, 0.5,
        ];
        assert_eq!(local_extrema(&v, &[3, 3], false), vec![4, 8]);
    }
}
