//! The offer catalog: what each retention measure costs, what it is assumed to achieve, and who
//! may get it. Invalid catalogs are refused naming the offer and the field.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub channel: String,
    /// Cost per contacted customer.
    #[serde(default)]
    pub cost_fixed: f64,
    /// Cost as a share of the customer's average order value (a discount, free shipping).
    #[serde(default)]
    pub cost_share_of_order: f64,
    /// Retention uplift in probability points (0.10 = ten points less churn among takers).
    pub uplift: f64,
    /// RFM segments that may get it; empty = all.
    #[serde(default)]
    pub segments: Vec<String>,
    /// Risk tiers that may get it; empty = all.
    #[serde(default)]
    pub risk_tiers: Vec<String>,
    #[serde(default)]
    pub min_expected_value: f64,
    #[serde(default)]
    pub min_orders: f64,
    /// Only for customers with product suggestions (a personalised product e-mail).
    #[serde(default)]
    pub requires_suggestions: bool,
}

/// The code of the "no action" entry. A catalog may list it to name it; it must cost nothing and
/// promise no uplift. Without it, customers without a worthwhile offer get this code anyway.
pub const NO_ACTION: &str = "NONE";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(rename = "offer")]
    pub offers: Vec<Offer>,
}

#[cfg(test)]
impl Offer {
    /// An e-mail offer open to everyone: a fixed cost and an uplift (tests set the rest).
    pub(crate) fn plain(code: &str, cost_fixed: f64, uplift: f64) -> Offer {
        Offer {
            code: code.into(),
            name: code.into(),
            description: String::new(),
            channel: "email".into(),
            cost_fixed,
            cost_share_of_order: 0.0,
            uplift,
            segments: vec![],
            risk_tiers: vec![],
            min_expected_value: 0.0,
            min_orders: 0.0,
            requires_suggestions: false,
        }
    }
}

/// The catalog shipped with retain (`data/offers.toml`), used when no `--offers` file is given.
pub const DEFAULT_TOML: &str = include_str!("../../data/offers.toml");

impl Catalog {
    /// The shipped default catalog.
    pub fn default_catalog() -> Catalog {
        Catalog::parse(DEFAULT_TOML, Path::new("data/offers.toml"))
            .expect("the shipped catalog is checked by a test")
    }

    /// The name of the "no action" entry.
    pub fn no_action_name(&self) -> &str {
        self.offers
            .iter()
            .find(|o| o.code == NO_ACTION)
            .map_or("No action", |o| o.name.as_str())
    }

    /// The offers that can be made (every entry but "no action").
    pub fn actions(&self) -> impl Iterator<Item = &Offer> {
        self.offers.iter().filter(|o| o.code != NO_ACTION)
    }

    pub fn get(&self, code: &str) -> Option<&Offer> {
        self.offers.iter().find(|o| o.code == code)
    }

    pub fn parse(text: &str, source: &Path) -> Result<Catalog> {
        let bad = |message: String| Error::Config {
            path: source.to_path_buf(),
            message,
        };
        let catalog: Catalog = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        catalog.check().map_err(bad)?;
        Ok(catalog)
    }

    /// Checks every offer; the message names the offer and the field.
    pub fn check(&self) -> std::result::Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, o) in self.offers.iter().enumerate() {
            let at = format!("offer {} ('{}')", i + 1, o.code);
            if o.code.trim().is_empty() {
                return Err(format!("offer {}: code must not be empty", i + 1));
            }
            if !seen.insert(o.code.clone()) {
                return Err(format!("{at}: code is used twice"));
            }
            if o.name.trim().is_empty() {
                return Err(format!("{at}: name must not be empty"));
            }
            for (field, value) in [
                ("cost_fixed", o.cost_fixed),
                ("cost_share_of_order", o.cost_share_of_order),
                ("min_expected_value", o.min_expected_value),
                ("min_orders", o.min_orders),
            ] {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(format!("{at}: {field} must be a number ≥ 0, got {value}"));
                }
            }
            if !(o.uplift.is_finite() && (0.0..=1.0).contains(&o.uplift)) {
                return Err(format!(
                    "{at}: uplift must be between 0 and 1 (probability points), got {}",
                    o.uplift
                ));
            }
            if o.code == NO_ACTION
                && (o.uplift != 0.0 || o.cost_fixed != 0.0 || o.cost_share_of_order != 0.0)
            {
                return Err(format!(
                    "{at}: the no-action entry must have uplift, cost_fixed and cost_share_of_order 0"
                ));
            }
            if let Some(c) = o
                .code
                .chars()
                .find(|c| c.is_control() || *c == ',' || *c == ';' || *c == '"')
            {
                return Err(format!(
                    "{at}: code must not contain {c:?} (it goes into CSV files)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalog_is_valid() {
        // Relative: a test runs in the package root (a compiled-in CARGO_MANIFEST_DIR can name
        // another clone's path when a target directory is shared).
        let path = Path::new("data/offers.toml");
        let catalog = Catalog::parse(&std::fs::read_to_string(path).unwrap(), path).unwrap();
        assert!(catalog.offers.len() >= 6);
        assert!(catalog.offers.iter().any(|o| o.channel == "phone"));
        assert_eq!(catalog, Catalog::default_catalog());
        assert_eq!(catalog.no_action_name(), "No action");
    }

    #[test]
    fn invalid_catalog_names_offer_and_field() {
        let text = "[[offer]]\ncode = \"VOUCHER\"\nname = \"Win-back voucher\"\nchannel = \"email\"\nuplift = 1.5\n";
        let err = Catalog::parse(text, Path::new("offers.toml")).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("offer 1 ('VOUCHER')") && message.contains("uplift"),
            "{message}"
        );
        let text =
            "[[offer]]\ncode = \"A\"\nname = \"x\"\nchannel = \"email\"\nuplift = 0.1\ncost = 3\n";
        let err = Catalog::parse(text, Path::new("offers.toml")).unwrap_err();
        assert!(err.to_string().contains("cost"), "{err}");
        let text =
            "[[offer]]\ncode = \"NONE\"\nname = \"No action\"\nchannel = \"none\"\nuplift = 0.1\n";
        let err = Catalog::parse(text, Path::new("offers.toml")).unwrap_err();
        assert!(err.to_string().contains("offer 1 ('NONE')"), "{err}");
    }
}
