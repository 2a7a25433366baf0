//! Product suggestions: a co-purchase model (item-item similarity from baskets and from customers'
//! product sets) and per-customer lists: `repurchase` (their own products, by frequency and
//! recency) and `cross_sell` (products they never bought, from co-purchase with their history,
//! blended with recent popularity).

pub mod artifact;
pub mod copurchase;
pub mod evaluate;
pub mod history;
pub mod output;
pub mod suggest;

pub use copurchase::{CoPurchaseModel, CoPurchaseParams};
pub use history::History;
pub use suggest::{Blend, Suggestions};
