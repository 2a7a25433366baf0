//! The churn model: inputs built from customer features, a standardised logistic regression fitted
//! with linfa, the saved artifact, scoring with reasons, and the honest out-of-time backtest.

pub mod artifact;
pub mod backtest;
pub mod fit;
pub mod inputs;
pub mod metrics;
pub mod reasons;
pub mod score;
pub mod train;

pub use artifact::ChurnModel;
pub use fit::ChurnParams;
