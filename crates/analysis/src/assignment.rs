//! Minimum-cost assignment (the Hungarian algorithm, O(n³)): matches the hidden units of one
//! endpoint to those of another as a whole, so near-ties between units never split a basin the
//! way a per-unit sort can.

/// The assignment `a` (row i → column a[i]) minimising Σ cost[i][a[i]] for an n × n row-major
/// cost matrix.
pub fn assign(cost: &[f64], n: usize) -> Vec<usize> {
    // Potentials and matching over columns 1..=n, column 0 a sentinel (e-maxx formulation).
    let inf = f64::INFINITY;
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let mut matched = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for row in 1..=n {
        matched[0] = row;
        let mut col0 = 0;
        let mut minv = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[col0] = true;
            let r = matched[col0];
            let mut delta = inf;
            let mut col1 = 0;
            for c in 1..=n {
                if !used[c] {
                    let cur = cost[(r - 1) * n + (c - 1)] - u[r] - v[c];
                    if cur < minv[c] {
                        minv[c] = cur;
                        way[c] = col0;
                    }
                    if minv[c] < delta {
                        delta = minv[c];
                        col1 = c;
                    }
                }
            }
            for c in 0..=n {
                if used[c] {
                    u[matched[c]] += delta;
                    v[c] -= delta;
                } else {
                    minv[c] -= delta;
                }
            }
            col0 = col1;
            if matched[col0] == 0 {
                break;
            }
        }
        loop {
            let prev = way[col0];
            matched[col0] = matched[prev];
            col0 = prev;
            if col0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![0; n];
    for c in 1..=n {
        if matched[c] > 0 {
            out[matched[c] - 1] = c - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(cost: &[f64], n: usize, a: &[usize]) -> f64 {
        (0..n).map(|i| cost[i * n + a[i]]).sum()
    }

    #[test]
    fn assignment_is_optimal_against_brute_force() {
        let mut seed = 1u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        for n in 1..=6 {
            for _ in 0..20 {
                let cost: Vec<f64> = (0..n * n).map(|_| next()).collect();
                let a = assign(&cost, n);
                let mut seen = a.clone();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "a permutation");
                // Brute force over all permutations.
                let mut perm: Vec<usize> = (0..n).collect();
                let mut best = f64::INFINITY;
                loop {
                    best = best.min(total(&cost, n, &perm));
                    // Next lexicographic permutation.
                    let Some(i) = (0..n.saturating_sub(1))
                        .rev()
                        .find(|&i| perm[i] < perm[i + 1])
                    else {
                        break;
                    };
                    let j = (i + 1..n).rev().find(|&j| perm[j] > perm[i]).unwrap_or(i);
                    perm.swap(i, j);
                    perm[i + 1..].reverse();
                }
                assert!((total(&cost, n, &a) - best).abs() < 1e-12);
            }
        }
    }
}
