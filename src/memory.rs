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

/// While the guard lives, freed pages stay with the allocator for [`HELD_MS`] before they go back
/// to the system, and are reused without a page fault. Reading, cleaning and the feature
/// aggregation allocate and free tens of megabytes per operation: with pages handed back at once,
/// the kernel zeroed freshly faulted pages for a quarter of the CPU time of `retain features` on
/// 96 M Parquet rows (perf: `clear_page_erms` 27 %, 8.8 M page faults). See the README
/// ("Scale") for what it gained; every shard still ends with [`release`], and the co-purchase
/// stage keeps the immediate return (see [`configure`]).
pub fn hold_freed_pages() -> HeldPages {
    set_purge_delay(HELD_MS);
    HeldPages(())
}

/// See [`hold_freed_pages`]; dropping it hands freed pages back at once again.
pub struct HeldPages(());

impl Drop for HeldPages {
    fn drop(&mut self) {
        set_purge_delay(0);
        release();
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
