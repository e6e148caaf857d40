//! The analysis of `landscape`'s results: the symmetry group of a model, stationary points
//! polished in float64 and classified by the exact Hessian, and walkers grouped into basins and
//! classes of copies. It reads walks as arrays and knows nothing of backends or files.

pub mod assignment;
pub mod basins;
pub mod boundary;
pub mod dense;
pub mod eigen;
pub mod flow;
pub mod graph;
pub mod lattice;
pub mod path;
pub mod stationary;
pub mod stats;
pub mod symmetry;
