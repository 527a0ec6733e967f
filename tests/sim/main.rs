//! The simulator's tests, one binary (each module was a test binary of its
//! own; one binary links the runtime and the simulator once instead of a
//! dozen times).

mod basic;
mod cluster_behaviours;
mod determinism;
mod dev;
mod explore;
mod hazard_catalogue;
mod hazards;
mod hosts;
mod keep;
mod keys;
mod limits;
mod node;
mod npl;
mod patch;
mod runtime;
