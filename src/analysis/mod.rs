//! Analysis of results: the symmetry group and, later, basins and stationary points.

pub mod lattice;
pub mod symmetry;
