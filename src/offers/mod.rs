//! Retention offers: the catalog (TOML) and the choice per customer by expected net benefit,
//! with eligibility, an optional budget, a deterministic control group and a suppression list.

pub mod catalog;
pub mod choice;
pub mod suppression;

pub use catalog::{Catalog, NO_ACTION, Offer};
pub use choice::{Budget, Candidate, Decision, Outcome, choose};
