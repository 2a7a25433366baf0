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
    // SAFETY: sets an option; no pointers are involved.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
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
