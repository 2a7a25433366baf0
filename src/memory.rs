//! The allocator, and handing freed memory back to the system between stages.
//!
//! polars allocates and frees large buffers from many threads. glibc's malloc kept what polars
//! freed in its per-thread arenas, and the next stage's tables rarely fit into those holes, so
//! they came on top (after cleaning 12 M CSV rows the process held 3.7 GB of which 0.7 GB was
//! live), and `malloc_trim` between stages cost time re-faulting pages. mimalloc, which polars
//! recommends, reuses freed pages across threads and is faster here: `retain features` on 12 M
//! Parquet rows took 23.8 and 24.1 s against glibc's 29.0 and 25.6 s, alternating (README,
//! "Measured changes"). It changes no result.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (v3 numbering; libmimalloc-sys names no constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed pages go back to the system at once instead of after mimalloc's default second: the
/// co-purchase stage of `run` on 96 M rows frees and allocates gigabytes within a second, and
/// with the delay peaked at 6.60 GiB against 5.73 with glibc. On 12 M Parquet rows `features`
/// took the same time (16.5, 17.0 s against 16.3, 17.0 s) and peaked at 2.33 GB instead of 2.49-2.55.
pub fn configure() {
    set_purge_delay(0);
}

/// How long freed pages stay with the allocator inside [`hold_freed_pages`]: mimalloc's default.
const HELD_MS: std::ffi::c_long = 1000;

/// Inside [`keep_freed_pages`]: never purged (mimalloc neither schedules nor forces a purge while
/// the delay is negative, so [`release`] does nothing either).
const KEPT_MS: std::ffi::c_long = -1;

/// The live guards: [`HeldPages`] and the kept ones among them. The delay follows the strongest.
static GUARDS: std::sync::Mutex<(usize, usize)> = std::sync::Mutex::new((0, 0));

/// While the guard lives, freed pages stay with the allocator for [`HELD_MS`] before they go back
/// to the system, and are reused without a page fault. Reading, cleaning and the feature
/// aggregation allocate and free tens of megabytes per operation: with pages handed back at once,
/// the kernel zeroed freshly faulted pages for a quarter of the CPU time of `retain features` on
/// 96 M Parquet rows (perf: `clear_page_erms` 27 %, 8.8 M page faults). See the README
/// ("Scale") for what it gained; every shard still ends with [`release`], and the co-purchase
/// stage keeps the immediate return (see [`configure`]). Guards nest: pages go back at once
/// again when the last one ends.
pub fn hold_freed_pages() -> HeldPages {
    guard(false)
}

/// As [`hold_freed_pages`], but freed pages are not handed back at all while the guard lives,
/// not even by [`release`]: for shards of equal size cleaned one after another, where each needs
/// what the one before freed. The pages kept are the high-water mark of one shard's work, which
/// [`crate::engine::ingest`] sizes its shards for; they stay with the process (reused, not
/// returned) after the guard. On 96 M gzip CSV rows (`features`, 16 shards, 6 GiB budget) a
/// one-second delay took 112.5 s and peaked at 3.59 GiB, keeping 99.3 s and 4.63 GiB: the kernel
/// zeroed pages faulted afresh after each shard's release (perf: `clear_page_erms` 10 % of the
/// CPU time). An input read as one shard is not kept: on 12 M Parquet rows it was slower kept
/// (10.8 s against 8.5 s) for reasons inside mimalloc this did not pin down.
pub fn keep_freed_pages() -> HeldPages {
    guard(true)
}

fn guard(kept: bool) -> HeldPages {
    let mut guards = GUARDS.lock().unwrap_or_else(|e| e.into_inner());
    guards.0 += 1;
    guards.1 += usize::from(kept);
    set_purge_delay(if guards.1 > 0 { KEPT_MS } else { HELD_MS });
    HeldPages { kept }
}

/// See [`hold_freed_pages`] and [`keep_freed_pages`].
pub struct HeldPages {
    kept: bool,
}

impl Drop for HeldPages {
    fn drop(&mut self) {
        let mut guards = GUARDS.lock().unwrap_or_else(|e| e.into_inner());
        guards.0 -= 1;
        guards.1 -= usize::from(self.kept);
        if guards.0 == 0 {
            set_purge_delay(0);
            release();
        } else {
            set_purge_delay(if guards.1 > 0 { KEPT_MS } else { HELD_MS });
        }
    }
}

fn set_purge_delay(ms: std::ffi::c_long) {
    // SAFETY: sets an option; no pointers are involved.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, ms);
    }
}

/// Gives the free pages of the allocator back to the system, so that what a stage freed is not
/// counted while the next one runs.
pub fn release() {
    // SAFETY: mi_collect takes no pointers and frees nothing that is in use.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
