//! The one place for column names: the input contract, the cleaned line table and the feature table.

/// Canonical input columns (DESIGN.md, "Input"). The user maps their own names onto these.
pub mod input {
    pub const CUSTOMER_ID: &str = "customer_id";
    pub const ORDER_DATE: &str = "order_date";
    pub const ORDER_ID: &str = "order_id";
    pub const PRODUCT_ID: &str = "product_id";
    pub const PRODUCT_NAME: &str = "product_name";
    pub const QUANTITY: &str = "quantity";
    pub const UNIT_PRICE: &str = "unit_price";
    pub const COUNTRY: &str = "country";

    /// Every canonical column in the order used for duplicate detection and the quarantine file.
    pub const ALL: [&str; 8] = [
        CUSTOMER_ID,
        ORDER_ID,
        ORDER_DATE,
        PRODUCT_ID,
        PRODUCT_NAME,
        QUANTITY,
        UNIT_PRICE,
        COUNTRY,
    ];
}

/// Columns of the cleaned line table that every stage after cleaning reads.
pub mod line {
    /// 0-based position of the row in the input (before any filtering).
    pub const ROW: &str = "row";
    pub const ORDER_TS: &str = "order_ts";
    /// Dense integer codes (see [`crate::clean::encode`]): every group-by runs on these.
    pub const CUSTOMER_IX: &str = "customer_ix";
    pub const ORDER_IX: &str = "order_ix";
    pub const PRODUCT_IX: &str = "product_ix";
    pub const ORDER_DAY: &str = "order_day";
    pub const QUANTITY: &str = "quantity";
    pub const UNIT_PRICE: &str = "unit_price";
    /// quantity × unit price; 1 per line when the input has no prices. Negative for returns.
    pub const LINE_VALUE: &str = "line_value";
    /// [`crate::clean::LineKind`] as its integer code.
    pub const KIND: &str = "kind";
    /// [`crate::clean::Reason`] as its integer code (0 = kept).
    pub const REASON: &str = "reason";

    // Text that cleaning puts on each line and [`crate::clean::encode`] replaces by the codes;
    // the dictionaries (`Transactions::customers`, `Transactions::products`) keep it per code.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// `order_id` where given, else customer id and day (one order per customer and day).
    pub const ORDER_KEY: &str = "order_key";
    pub const PRODUCT_ID: &str = "product_id";
    pub const PRODUCT_NAME: &str = "product_name";
}

/// Columns of the customer feature table, in the order they are written.
pub mod feature {
    pub const CUSTOMER_ID: &str = "customer_id";
    pub const FIRST_PURCHASE: &str = "first_purchase";
    pub const LAST_PURCHASE: &str = "last_purchase";
    pub const RECENCY_DAYS: &str = "recency_days";
    pub const FREQUENCY: &str = "frequency";
    pub const MONETARY_TOTAL: &str = "monetary_total";
    pub const TENURE_DAYS: &str = "tenure_days";
    pub const AVG_ORDER_VALUE: &str = "avg_order_value";
    pub const ORDERS_30D: &str = "orders_30d";
    pub const ORDERS_90D: &str = "orders_90d";
    pub const ORDERS_180D: &str = "orders_180d";
    pub const PURCHASE_DAYS: &str = "purchase_days";
    pub const GAP_MEAN_DAYS: &str = "gap_mean_days";
    pub const GAP_STD_DAYS: &str = "gap_std_days";
    pub const OVERDUE_RATIO: &str = "overdue_ratio";
    pub const DISTINCT_PRODUCTS: &str = "distinct_products";
    pub const LINES_180D: &str = "lines_180d";
    /// Units of products in the last order with products (orders placed at the same last moment
    /// together); 0 for a customer who bought no products.
    pub const LAST_ORDER_UNITS: &str = "last_order_units";
    pub const MEDIAN_UNIT_PRICE: &str = "median_unit_price";
    pub const RETURN_RATE: &str = "return_rate";
    pub const R_SCORE: &str = "r_score";
    pub const F_SCORE: &str = "f_score";
    pub const M_SCORE: &str = "m_score";
    pub const RFM_SEGMENT: &str = "rfm_segment";
}

/// Columns that scoring adds in front of the features.
pub mod score {
    pub const CHURN_PROBABILITY: &str = "churn_probability";
    pub const RISK_TIER: &str = "risk_tier";
    pub const REASON_1: &str = "reason_1";
    pub const REASON_2: &str = "reason_2";
    pub const REASON_3: &str = "reason_3";
    /// The reasons' codes, strongest first, `;`-separated (a CRM multi-select field).
    pub const REASON_CODES: &str = "reason_codes";
    /// Last purchase plus the usual gap; empty with one purchase day.
    pub const EXPECTED_NEXT_ORDER: &str = "expected_next_order";
    /// Purchase rate × horizon × average order value.
    pub const EXPECTED_VALUE: &str = "expected_value_horizon";
    /// Churn probability × expected value.
    pub const VALUE_AT_RISK: &str = "value_at_risk";
}

/// Columns of the offer decision, added to the scores and the CRM file.
pub mod offer {
    /// contact, control, no_action, over_budget or suppressed.
    pub const DECISION: &str = "decision";
    /// The offer to send; `NONE` for everyone who gets none (control included).
    pub const OFFER_CODE: &str = "offer_code";
    pub const OFFER_NAME: &str = "offer_name";
    pub const OFFER_CHANNEL: &str = "offer_channel";
    pub const OFFER_COST: &str = "offer_cost";
    /// Of the best offer: the one sent, or held back for control and over-budget customers.
    pub const EXPECTED_NET_BENEFIT: &str = "expected_net_benefit";
    pub const CONTROL_GROUP: &str = "control_group";
    /// The offer a control or over-budget customer would have got; empty otherwise.
    pub const HELD_BACK_OFFER_CODE: &str = "held_back_offer_code";
}

/// Columns of the CRM file besides the score and offer columns.
pub mod crm {
    pub const PRODUCT_ID: [&str; 3] = ["product_1_id", "product_2_id", "product_3_id"];
    pub const PRODUCT_NAME: [&str; 3] = ["product_1_name", "product_2_name", "product_3_name"];
    pub const AS_OF: &str = "as_of";
    pub const MODEL_VERSION: &str = "model_version";
    pub const CAMPAIGN: &str = "campaign";
}
