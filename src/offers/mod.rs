//! Retention offers: the catalog (TOML) and the choice per customer by expected net benefit,
//! with eligibility, an optional budget, a deterministic control group and a suppression list.
//!
//! Not yet wired into `score` / `run` or the CRM file (issue [offers-output]); the choice is a
//! pure function from scored customers to decisions and is tested on its own.

pub mod catalog;
pub mod choice;

pub use catalog::{Catalog, Offer};
pub use choice::{Budget, Candidate, Decision, choose};
