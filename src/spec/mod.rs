//! Specifications: what the user asked for, validated. Model, data, slice.

pub mod data;
pub mod model;
pub mod slice;
pub mod walk;
