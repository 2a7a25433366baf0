//! Retention offers: the catalog (TOML) and the choice per customer by expected net benefit,
//! with eligibility, an optional budget, a deterministic control group and a suppression list;
//! a campaign's decisions and their summary.

pub mod campaign;
pub mod catalog;
pub mod choice;
pub mod suppression;

pub use campaign::{Campaign, OfferTotals, Summary, candidates, crm_order, decide};
pub use catalog::{Catalog, NO_ACTION, Offer};
pub use choice::{Budget, Candidate, Decision, Outcome, choose};
