//! Marching-squares contour lines on a regular 2-D lattice.

use std::collections::HashMap;

/// A crossing on a lattice edge: the edge's id and the point in fractional (i, j) coordinates.
type End = (usize, (f64, f64));

/// Contour polylines of `f` (row-major nx × ny, `f[i * ny + j]`) at `level`, in fractional lattice
/// coordinates (i, j); closed loops repeat their first point at the end. Cells touching a non-finite
/// value are skipped.
pub fn contour_lines(f: &[f64], nx: usize, ny: usize, level: f64) -> Vec<Vec<(f64, f64)>> {
    if nx < 2 || ny < 2 || f.len() != nx * ny || !level.is_finite() {
        return Vec::new();
    }
    let at = |i: usize, j: usize| f[i * ny + j];
    // Edge ids: 2·node for the edge towards +i, 2·node + 1 for the edge towards +j.
    let (h, v) = (
        |i: usize, j: usize| 2 * (i * ny + j),
        |i: usize, j: usize| 2 * (i * ny + j) + 1,
    );
    let cross = |a: f64, b: f64| (level - a) / (b - a);
    let mut segs: Vec<[End; 2]> = Vec::new();
    for i in 0..nx - 1 {
        for j in 0..ny - 1 {
            let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
            if ![a, b, c, d].iter().all(|x| x.is_finite()) {
                continue;
            }
            let (fi, fj) = (i as f64, j as f64);
            // Cell edges: 0 bottom (a–b), 1 right (b–c), 2 top (d–c), 3 left (a–d).
            let e = [
                (h(i, j), (fi + cross(a, b), fj)),
                (v(i + 1, j), (fi + 1.0, fj + cross(b, c))),
                (h(i, j + 1), (fi + cross(d, c), fj + 1.0)),
                (v(i, j), (fi, fj + cross(a, d))),
            ];
            let above = |x: f64| x >= level;
            let case = usize::from(above(a))
                | usize::from(above(b)) << 1
                | usize::from(above(c)) << 2
                | usize::from(above(d)) << 3;
            // Saddles are resolved by the cell-centre average.
            let centre_above = above((a + b + c + d) / 4.0);
            let pairs: &[(usize, usize)] = match case {
                1 | 14 => &[(3, 0)],
                2 | 13 => &[(0, 1)],
                3 | 12 => &[(3, 1)],
                4 | 11 => &[(1, 2)],
                6 | 9 => &[(0, 2)],
                7 | 8 => &[(3, 2)],
                5 if centre_above => &[(0, 1), (2, 3)],
                5 => &[(3, 0), (1, 2)],
                10 if centre_above => &[(3, 0), (1, 2)],
                10 => &[(0, 1), (2, 3)],
                _ => &[],
            };
            segs.extend(pairs.iter().map(|&(p, q)| [e[p], e[q]]));
        }
    }
    join(&segs)
}

/// Chains segments that share lattice edges into polylines.
fn join(segs: &[[End; 2]]) -> Vec<Vec<(f64, f64)>> {
    let mut by_edge: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, s) in segs.iter().enumerate() {
        for end in s {
            by_edge.entry(end.0).or_default().push(k);
        }
    }
    let mut used = vec![false; segs.len()];
    let mut lines = Vec::new();
    for start in 0..segs.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let [first, second] = segs[start];
        let mut fwd = vec![first, second];
        extend(&mut fwd, segs, &by_edge, &mut used);
        // Walk the other way too, unless the loop already closed.
        if fwd.last().map(|e| e.0) != Some(first.0) {
            let mut back = vec![first];
            extend(&mut back, segs, &by_edge, &mut used);
            back.reverse();
            back.pop();
            back.extend(fwd);
            fwd = back;
        }
        lines.push(fwd.into_iter().map(|e| e.1).collect());
    }
    lines
}

/// Appends points while an unused segment continues from the chain's last edge.
fn extend(
    chain: &mut Vec<End>,
    segs: &[[End; 2]],
    by_edge: &HashMap<usize, Vec<usize>>,
    used: &mut [bool],
) {
    while let Some(&(edge, _)) = chain.last() {
        let next = by_edge
            .get(&edge)
            .and_then(|ks| ks.iter().copied().find(|&k| !used[k]));
        let Some(k) = next else { break };
        used[k] = true;
        let s = segs[k];
        chain.push(if s[0].0 == edge { s[1] } else { s[0] });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cone_gives_closed_circle() {
        let n = 41;
        let f: Vec<f64> = (0..n * n)
            .map(|k| ((k / n) as f64 - 20.0).hypot((k % n) as f64 - 20.0))
            .collect();
        let lines = contour_lines(&f, n, n, 10.0);
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert!(l.len() > 40);
        assert_eq!(l.first(), l.last());
        for &(x, y) in l {
            assert!(((x - 20.0).hypot(y - 20.0) - 10.0).abs() < 0.1);
        }
        let two = contour_lines(&f, n, n, 5.0);
        assert_eq!(two.len(), 1);
        assert!(contour_lines(&f, n, n, 100.0).is_empty());
    }

    #[test]
    fn open_lines_and_nan_do_not_panic() {
        let f = vec![0.0, 1.0, f64::NAN, 0.0, 1.0, 2.0];
        let lines = contour_lines(&f, 2, 3, 0.5);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), 2);
        assert!(contour_lines(&f, 1, 6, 0.5).is_empty());
    }
}
