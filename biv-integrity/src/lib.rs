//! biv-integrity: see the README's crate table. This crate is a placeholder until its issue lands;
//! it exposes no API yet, so nothing here can be mistaken for a working control.

pub mod audit;
pub mod store;
