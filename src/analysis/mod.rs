//! Analysis of results: the symmetry group and, later, basins and stationary points.

pub mod assignment;
pub mod basins;
pub mod dense;
pub mod eigen;
pub mod lattice;
pub mod stationary;
pub mod stats;
pub mod symmetry;
