//! The synthetic product catalogue: themed products whose themes make baskets that go together.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One product of the catalogue.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub theme: usize,
    pub price_cents: u32,
}

/// A theme: products bought together, with a seasonal peak month (0 = none).
#[derive(Debug, Clone)]
pub struct Theme {
    pub name: &'static str,
    pub peak_month: u32,
    /// Indices into [`Catalog::products`], most popular first.
    pub products: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub products: Vec<Product>,
    pub themes: Vec<Theme>,
}

const THEMES: [(&str, u32, &[&str]); 16] = [
    (
        "HEART",
        2,
        &[
            "T-LIGHT HOLDER",
            "BUNTING",
            "WALL ART",
            "CUSHION COVER",
            "DOORSTOP",
            "GARLAND",
        ],
    ),
    (
        "CHRISTMAS",
        12,
        &[
            "BAUBLE",
            "TREE DECORATION",
            "CRACKERS",
            "STOCKING",
            "WREATH",
            "ADVENT CALENDAR",
            "GIFT TAG",
        ],
    ),
    (
        "GARDEN",
        5,
        &[
            "PLANT POT",
            "WATERING CAN",
            "BIRD FEEDER",
            "PARASOL",
            "HOSE HOOK",
            "SEED TIN",
        ],
    ),
    (
        "KITCHEN",
        0,
        &[
            "APRON",
            "OVEN GLOVE",
            "TEA TOWEL",
            "STORAGE JAR",
            "MEASURING SPOONS",
            "CAKE STAND",
        ],
    ),
    (
        "BAKING",
        0,
        &[
            "CAKE CASES",
            "COOKIE CUTTER",
            "BAKING SET",
            "PIE DISH",
            "ICING BAG",
        ],
    ),
    (
        "PARTY",
        7,
        &[
            "PAPER CUPS",
            "NAPKINS",
            "PAPER PLATES",
            "BALLOONS",
            "STRAWS",
            "PARTY BAG",
        ],
    ),
    (
        "LUNCH",
        9,
        &[
            "LUNCH BAG",
            "LUNCH BOX",
            "DRINKS BOTTLE",
            "SNACK BOX",
            "CUTLERY SET",
        ],
    ),
    (
        "CANDLE",
        11,
        &[
            "SCENTED CANDLE",
            "PILLAR CANDLE",
            "CANDLE HOLDER",
            "TEA LIGHTS",
            "LANTERN",
        ],
    ),
    (
        "TEA",
        0,
        &[
            "TEACUP AND SAUCER",
            "TEAPOT",
            "MUG",
            "COASTER SET",
            "TEA TIN",
        ],
    ),
    (
        "STATIONERY",
        9,
        &[
            "NOTEBOOK",
            "PENCIL SET",
            "GIFT WRAP",
            "GREETING CARD",
            "STICKERS",
            "ERASER",
        ],
    ),
    (
        "CHILDRENS",
        0,
        &[
            "ALARM CLOCK",
            "JIGSAW",
            "DOLLY",
            "SPACEBOY BAG",
            "PAINT SET",
        ],
    ),
    (
        "VINTAGE",
        0,
        &[
            "SIGN",
            "PHOTO FRAME",
            "BIRDCAGE",
            "KEY CABINET",
            "BREAD BIN",
        ],
    ),
    ("EASTER", 4, &["EGG DECORATION", "BUNNY", "CHICK", "BASKET"]),
    (
        "BATH",
        0,
        &["SOAP DISH", "TOWEL", "TOOTHBRUSH HOLDER", "WASH BAG"],
    ),
    (
        "JEWELLERY",
        0,
        &["NECKLACE", "BRACELET", "EARRINGS", "TRINKET BOX"],
    ),
    (
        "PICNIC",
        6,
        &["HAMPER", "BLANKET", "COOLER BAG", "PICNIC SET"],
    ),
];

const COLOURS: [&str; 10] = [
    "RED",
    "WHITE",
    "PINK",
    "BLUE",
    "GREEN",
    "IVORY",
    "BLACK",
    "SPOTTY",
    "RETRO",
    "SWEETHEART",
];

impl Catalog {
    /// Builds the catalogue: every theme item in several colours, ids like `20713` and `85123A`.
    pub fn new(rng: &mut ChaCha8Rng) -> Catalog {
        let mut products = Vec::new();
        let mut themes = Vec::new();
        let mut next_code = 20_000u32;
        for (t, (theme, peak_month, items)) in THEMES.iter().enumerate() {
            let mut members = Vec::new();
            for item in *items {
                let base = rng.gen_range(0.35f64..12.0).powf(1.2);
                let colours = rng.gen_range(3..=6);
                for colour in COLOURS
                    .iter()
                    .skip(rng.gen_range(0..COLOURS.len() - 4))
                    .take(colours)
                {
                    next_code += rng.gen_range(1..40);
                    let suffix = if rng.gen_bool(0.2) {
                        ["A", "B", "C"][rng.gen_range(0..3)]
                    } else {
                        ""
                    };
                    let cents = (base * rng.gen_range(0.8..1.25) * 100.0).round().max(19.0) as u32;
                    members.push(products.len());
                    products.push(Product {
                        id: format!("{next_code}{suffix}"),
                        name: format!("{colour} {theme} {item}"),
                        theme: t,
                        price_cents: cents,
                    });
                }
            }
            // Popularity order inside the theme: a seeded shuffle, then Zipf-like picks by rank.
            for i in (1..members.len()).rev() {
                members.swap(i, rng.gen_range(0..=i));
            }
            themes.push(Theme {
                name: theme,
                peak_month: *peak_month,
                products: members,
            });
        }
        Catalog { products, themes }
    }

    /// Picks a product of `theme` with Zipf-like popularity (rank r has weight 1 / (r + 1)).
    pub fn pick(&self, theme: usize, rng: &mut ChaCha8Rng) -> usize {
        let members = &self.themes[theme].products;
        let total: f64 = (1..=members.len()).map(|r| 1.0 / r as f64).sum();
        let mut x = rng.r#gen::<f64>() * total;
        for (r, &p) in members.iter().enumerate() {
            x -= 1.0 / (r + 1) as f64;
            if x <= 0.0 {
                return p;
            }
        }
        members[members.len() - 1]
    }
}
