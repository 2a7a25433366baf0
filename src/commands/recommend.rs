//! `retain recommend`: suggestions per customer from the saved co-purchase model (or a refit).

use std::path::Path;

use chrono::NaiveDate;

use crate::clean::Transactions;
use crate::cli::RecommendArgs;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::io::paths::{self, Replaced};
use crate::io::write;
use crate::recommend::{Blend, CoPurchaseModel, CoPurchaseParams, History, evaluate, output};
use crate::schema::input;
use crate::settings;

/// Fits the co-purchase model on purchases before `as_of`, with the blend chosen one horizon earlier.
pub(crate) fn fit(
    tx: &Transactions,
    as_of: NaiveDate,
    config: &Config,
) -> Result<(CoPurchaseModel, History, Blend, String)> {
    let started = std::time::Instant::now();
    let defaults = CoPurchaseParams::default();
    let products = tx.products.column(crate::schema::line::PRODUCT_ID)?.str()?;
    let blocked = output::blocked(
        products.iter().map(Option::unwrap_or_default),
        &config.recommend.blocked_products,
    );
    // The blend search builds its own history one horizon earlier: the one at `as_of` is built
    // after it, so that the two are never held at once.
    let (params, blend, chosen_by) = evaluate::choose_blend(
        tx,
        as_of,
        config.model.horizon_days,
        config.recommend.k,
        &defaults,
        &blocked,
    )?;
    let searched = started.elapsed().as_secs_f64();
    let history = History::build(tx, as_of, defaults.popularity_days)?;
    let model = CoPurchaseModel::fit(&history, &params);
    super::progress(format!(
        "co-purchase model: blend search {searched:.2} s, fit {:.2} s ({} products, {} baskets)",
        started.elapsed().as_secs_f64() - searched,
        history.n_products(),
        history.baskets.len()
    ));
    Ok((model, history, blend, chosen_by))
}

/// Writes the suggestion table of every customer with history to `path`; returns its rows.
pub(crate) fn write_suggestions(
    model: &CoPurchaseModel,
    history: &History,
    tx: &Transactions,
    blend: &Blend,
    config: &Config,
    path: &Path,
) -> Result<usize> {
    let ids = tx
        .customers
        .column(crate::schema::line::CUSTOMER_ID)?
        .str()?
        .clone();
    let blocked = output::blocked(
        history.product_ids.iter().map(String::as_str),
        &config.recommend.blocked_products,
    );
    let part = crate::engine::budget::customers_per_part(
        config.engine.memory_limit_bytes().map_err(Error::Usage)?,
    );
    let mut file = crate::output::parts::TableFile::create(path, crate::output::Profile::Crm)?;
    output::write_parts(
        model,
        history,
        &ids,
        config.recommend.k,
        blend,
        &blocked,
        part,
        |rows| file.append(rows),
    )?;
    file.finish()
}

pub fn run(args: &RecommendArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    write::TableFormat::from_path(&args.out)?;
    let model_files = super::model_files_in(&args.model_dir);
    let mut reads = super::settings_reads(&args.settings);
    reads.push(("--input", &args.input));
    reads.extend(model_files.iter().map(|f| ("--model-dir", f.as_path())));
    paths::refuse_overlap(&reads, &[("--out", Replaced::File(&args.out))])?;
    let cleaned = super::load(&args.input, &config, false, Some(&args.out))?;
    let tx = &cleaned.transactions;
    if !tx.has(input::PRODUCT_ID) {
        return Err(Error::input(
            &args.input,
            "no product_id column: product suggestions need product ids (map yours with --col-product-id)",
        ));
    }
    let (as_of, _) = settings::as_of_or_default(settings::parse_as_of(args.as_of.as_deref())?, tx)?;
    let started = std::time::Instant::now();
    let (model, history, blend) = if args.refit {
        let (model, history, blend, _) = fit(tx, as_of, &config)?;
        (model, history, blend)
    } else {
        let models = crate::io::store::open(&args.model_dir)?;
        if let Some(warning) = models.warning() {
            super::progress(format!("warning: {warning}"));
        }
        let history = History::for_scoring(tx, as_of, CoPurchaseParams::default().popularity_days)?;
        let (model, meta) = super::read_copurchase(&args.model_dir, &history)?;
        (model, history, meta.blend)
    };
    let rows = write_suggestions(&model, &history, tx, &blend, &config, &args.out)?;
    super::progress(format!(
        "wrote {rows} suggestions at {as_of} to {} ({:.2} s)",
        args.out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}
