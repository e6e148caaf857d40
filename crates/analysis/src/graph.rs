//! The disconnectivity graph (Becker & Karplus 1997): minima are leaves at their loss; two
//! groups of minima merge at the loss of the lowest transition state that joins them, so the
//! tree shows, for every loss level, which minima a walker with that much loss to spare can reach
//! from which.

use serde::{Deserialize, Serialize};

/// A minimum: a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaf {
    /// Its loss.
    pub loss: f64,
    /// How many copies it has under the symmetry group, where known.
    pub copies: Option<f64>,
    /// Where it comes from (a class of a run, a row of an array).
    pub label: String,
}

/// A transition state joining two leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// Its loss.
    pub loss: f64,
    /// The two leaves (equal for a transition state between copies of one minimum).
    pub joins: (usize, usize),
}

/// A node of the tree: leaf `i` or junction `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRef {
    /// A leaf.
    Leaf(usize),
    /// A junction.
    Junction(usize),
}

/// Where groups of minima merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Junction {
    /// The loss of the transition state that merges them.
    pub level: f64,
    /// What merges there.
    pub children: Vec<NodeRef>,
    /// Horizontal position, in leaf slots.
    pub x: f64,
}

/// The graph, laid out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The minima.
    pub leaves: Vec<Leaf>,
    /// The transition states.
    pub edges: Vec<Edge>,
    /// Where branches merge, lowest first.
    pub junctions: Vec<Junction>,
    /// The nodes no transition state joins further up, left to right.
    pub roots: Vec<NodeRef>,
    /// Each leaf's horizontal slot.
    pub leaf_x: Vec<f64>,
    /// Per leaf, the lowest transition state between two of its own copies, where one is known.
    pub self_barriers: Vec<Option<f64>>,
}

/// Losses equal within this (relative to max(1, |L|)) merge at one junction.
const SAME_LEVEL: f64 = 1e-9;

/// Builds the graph of `leaves` and `edges` (Kruskal's order: transition states by rising loss,
/// each merging the groups of its two minima unless they are merged already) and lays it out
/// with the branch of the lowest minimum in the middle of every junction.
pub fn build(leaves: Vec<Leaf>, edges: Vec<Edge>) -> Graph {
    let n = leaves.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    // The node at the top of each group (indexed by the group's root leaf).
    let mut top: Vec<NodeRef> = (0..n).map(NodeRef::Leaf).collect();
    let mut junctions: Vec<Junction> = Vec::new();
    let mut self_barriers = vec![None; n];
    let mut order: Vec<usize> = (0..edges.len()).collect();
    order.sort_by(|&a, &b| edges[a].loss.total_cmp(&edges[b].loss));
    for k in order {
        let e = &edges[k];
        let (i, j) = e.joins;
        if i >= n || j >= n || !e.loss.is_finite() {
            continue;
        }
        if i == j {
            let b: &mut Option<f64> = &mut self_barriers[i];
            *b = Some(b.map_or(e.loss, |v: f64| v.min(e.loss)));
            continue;
        }
        let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
        if ri == rj {
            continue;
        }
        let (ti, tj) = (top[ri], top[rj]);
        let same = |t: NodeRef, junctions: &[Junction]| match t {
            NodeRef::Junction(q) => {
                (junctions[q].level - e.loss).abs() <= SAME_LEVEL * e.loss.abs().max(1.0)
            }
            NodeRef::Leaf(_) => false,
        };
        let node = match (same(ti, &junctions), same(tj, &junctions)) {
            (true, _) => {
                let NodeRef::Junction(q) = ti else {
                    unreachable!()
                };
                match tj {
                    NodeRef::Junction(r) if same(tj, &junctions) => {
                        let moved = std::mem::take(&mut junctions[r].children);
                        junctions[q].children.extend(moved);
                    }
                    other => junctions[q].children.push(other),
                }
                ti
            }
            (false, true) => {
                let NodeRef::Junction(q) = tj else {
                    unreachable!()
                };
                junctions[q].children.push(ti);
                tj
            }
            (false, false) => {
                junctions.push(Junction {
                    level: e.loss,
                    children: vec![ti, tj],
                    x: 0.0,
                });
                NodeRef::Junction(junctions.len() - 1)
            }
        };
        parent[rj] = ri;
        top[ri] = node;
    }
    let mut roots: Vec<NodeRef> = (0..n)
        .filter(|&i| find(&mut parent, i) == i)
        .map(|i| top[i])
        .collect();
    // Lay out: at every junction (and among the roots) the branch holding the lowest minimum
    // in the middle, the others alternating outward by their lowest minimum.
    let lowest = |r: NodeRef, junctions: &[Junction]| -> f64 {
        let mut stack = vec![r];
        let mut low = f64::INFINITY;
        while let Some(t) = stack.pop() {
            match t {
                NodeRef::Leaf(i) => low = low.min(leaves[i].loss),
                NodeRef::Junction(q) => stack.extend(junctions[q].children.iter().copied()),
            }
        }
        low
    };
    let centred = |mut v: Vec<NodeRef>, junctions: &[Junction]| -> Vec<NodeRef> {
        v.sort_by(|&a, &b| lowest(a, junctions).total_cmp(&lowest(b, junctions)));
        let mut out = std::collections::VecDeque::new();
        for (k, r) in v.into_iter().enumerate() {
            if k % 2 == 0 {
                out.push_back(r);
            } else {
                out.push_front(r);
            }
        }
        out.into_iter().collect()
    };
    roots = centred(roots, &junctions);
    for q in 0..junctions.len() {
        let children = std::mem::take(&mut junctions[q].children);
        junctions[q].children = centred(children, &junctions);
    }
    let mut leaf_x = vec![0.0; n];
    let mut slot = 0.0;
    fn place(r: NodeRef, junctions: &mut [Junction], leaf_x: &mut [f64], slot: &mut f64) -> f64 {
        match r {
            NodeRef::Leaf(i) => {
                leaf_x[i] = *slot;
                *slot += 1.0;
                leaf_x[i]
            }
            NodeRef::Junction(q) => {
                let children = junctions[q].children.clone();
                let xs: Vec<f64> = children
                    .iter()
                    .map(|&c| place(c, junctions, leaf_x, slot))
                    .collect();
                let x = 0.5 * (xs[0] + xs[xs.len() - 1]);
                junctions[q].x = x;
                x
            }
        }
    }
    for &r in &roots {
        place(r, &mut junctions, &mut leaf_x, &mut slot);
    }
    // Junctions emptied by a merge at their own level are dropped, and references renumbered.
    let keep: Vec<usize> = (0..junctions.len())
        .filter(|&q| !junctions[q].children.is_empty())
        .collect();
    let renumber = |r: NodeRef| match r {
        NodeRef::Junction(q) => NodeRef::Junction(keep.iter().position(|&k| k == q).unwrap_or(q)),
        leaf => leaf,
    };
    let junctions: Vec<Junction> = keep
        .iter()
        .map(|&q| Junction {
            level: junctions[q].level,
            children: junctions[q].children.iter().map(|&c| renumber(c)).collect(),
            x: junctions[q].x,
        })
        .collect();
    let roots = roots.into_iter().map(renumber).collect();
    Graph {
        leaves,
        edges,
        junctions,
        roots,
        leaf_x,
        self_barriers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(loss: f64) -> Leaf {
        Leaf {
            loss,
            copies: None,
            label: String::new(),
        }
    }

    #[test]
    fn branches_merge_at_the_lowest_joining_transition_state() {
        // Minima at 0, 1, 2, 3; 0–1 joined at 5 and at 4 (the lower counts), 2–3 at 6, 1–2 at 9;
        // a self-connection of 0 at 7.
        let leaves = vec![leaf(0.0), leaf(1.0), leaf(2.0), leaf(3.0)];
        let e = |loss, i, j| Edge {
            loss,
            joins: (i, j),
        };
        let g = build(
            leaves,
            vec![
                e(5.0, 0, 1),
                e(9.0, 1, 2),
                e(6.0, 2, 3),
                e(4.0, 1, 0),
                e(7.0, 0, 0),
            ],
        );
        let levels: Vec<f64> = g.junctions.iter().map(|j| j.level).collect();
        assert_eq!(levels, [4.0, 6.0, 9.0]);
        assert_eq!(g.roots.len(), 1);
        assert_eq!(g.self_barriers[0], Some(7.0));
        // The global minimum's branch sits in the middle of the top junction's span.
        let top = &g.junctions[2];
        assert_eq!(top.children.len(), 2);
        let xs: Vec<f64> = g.leaf_x.clone();
        let mut sorted = xs.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(sorted, [0.0, 1.0, 2.0, 3.0]);
        // Unconnected minima stay separate roots.
        let g = build(vec![leaf(0.0), leaf(1.0), leaf(0.5)], Vec::new());
        assert_eq!(g.roots.len(), 3);
        assert!(g.junctions.is_empty());
        // The lowest root in the middle.
        assert_eq!(g.leaf_x[0], 1.0);
    }

    #[test]
    fn equal_levels_merge_in_one_junction() {
        let leaves = vec![leaf(0.0), leaf(0.1), leaf(0.2)];
        let e = |i, j| Edge {
            loss: 1.0,
            joins: (i, j),
        };
        let g = build(leaves, vec![e(0, 1), e(1, 2)]);
        assert_eq!(g.junctions.len(), 1);
        assert_eq!(g.junctions[0].children.len(), 3);
        assert_eq!(g.leaf_x[0], 1.0);
    }
}
