//! What a long command shows on stderr while it works: the progress bar of the running command
//! (see `commands::stages`), messages printed above it, and the shards of a pass over the lines.
//!
//! On a terminal the bar's message names the pass, the shard, lines per second and the time
//! left; in a scheduler's log (not a terminal) a pass over several shards writes one plain line
//! per shard that took a second or more and one when it ends. One shard in memory shows nothing.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

/// The progress bar of the running command, so that messages print above it, not through it,
/// and the message it shows for the running stage.
pub(crate) static ACTIVE: Mutex<Option<(ProgressBar, String)>> = Mutex::new(None);

/// Prints one line on stderr, above the progress bar if one is showing.
pub(crate) fn line(message: &str) {
    let active = ACTIVE.lock().ok().and_then(|guard| guard.clone());
    match active {
        Some((bar, _)) => bar.println(message),
        None => eprintln!("{message}"),
    }
}

/// One pass over the shards of the line table.
pub(crate) struct Pass {
    name: &'static str,
    shards: usize,
    lines: usize,
    done: usize,
    started: Instant,
    shard_started: Instant,
    /// The bar whose message shows the pass: the command's, or this pass's own.
    bar: Option<(ProgressBar, String)>,
    own_bar: bool,
}

impl Pass {
    /// A pass over `shards` shards holding `lines` lines; silent for a single shard.
    pub(crate) fn start(name: &'static str, shards: usize, lines: usize) -> Option<Pass> {
        if shards <= 1 {
            return None;
        }
        let terminal = std::io::stderr().is_terminal();
        let active = ACTIVE.lock().ok().and_then(|guard| guard.clone());
        let (bar, own_bar) = match (terminal, active) {
            (true, Some(active)) => (Some(active), false),
            (true, None) => {
                let bar = ProgressBar::new(shards as u64);
                bar.enable_steady_tick(Duration::from_millis(120));
                (Some((bar, String::new())), true)
            }
            (false, _) => (None, false),
        };
        Some(Pass {
            name,
            shards,
            lines,
            done: 0,
            started: Instant::now(),
            shard_started: Instant::now(),
            bar,
            own_bar,
        })
    }

    /// Shard `index` (0-based) of `lines` lines is done.
    pub(crate) fn shard_done(&mut self, index: usize, lines: usize) {
        self.done += lines;
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / elapsed;
        let left = self.lines.saturating_sub(self.done) as f64 / rate.max(1.0);
        match &self.bar {
            Some((bar, stage)) => bar.set_message(format!(
                "{stage}{}{}: shard {}/{}, {} lines/s, about {left:.0} s left",
                if stage.is_empty() { "" } else { " · " },
                self.name,
                index + 1,
                self.shards,
                thousands(rate),
            )),
            None if self.shard_started.elapsed() >= Duration::from_secs(1) => line(&format!(
                "retain: {}: shard {}/{} ({lines} lines) in {:.2} s, {} lines/s so far",
                self.name,
                index + 1,
                self.shards,
                self.shard_started.elapsed().as_secs_f64(),
                thousands(rate)
            )),
            None => {}
        }
        self.shard_started = Instant::now();
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        match &self.bar {
            Some((bar, stage)) if !self.own_bar => bar.set_message(stage.clone()),
            Some((bar, _)) => bar.finish_and_clear(),
            None => line(&format!(
                "retain: {}: {} shards, {} lines, {:.2} s",
                self.name,
                self.shards,
                self.lines,
                self.started.elapsed().as_secs_f64()
            )),
        }
    }
}

/// The read of a large input, batch by batch: on a terminal the bar's message shows rows read,
/// the share of the estimated total, rows/s and the time left; in a log, a line every 10 s.
pub(crate) struct Stream {
    name: &'static str,
    /// Estimated rows of the input.
    total: u64,
    started: Instant,
    last_line: Instant,
    bar: Option<(ProgressBar, String)>,
}

impl Stream {
    /// Silent for inputs of fewer than two million rows (estimated).
    pub(crate) fn start(name: &'static str, total: u64) -> Option<Stream> {
        if total < 2_000_000 {
            return None;
        }
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| ACTIVE.lock().ok().and_then(|guard| guard.clone()))
            .flatten();
        Some(Stream {
            name,
            total,
            started: Instant::now(),
            last_line: Instant::now(),
            bar,
        })
    }

    /// `rows` rows are read so far.
    pub(crate) fn at(&mut self, rows: u64) {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = rows as f64 / elapsed;
        let share = (rows as f64 / self.total.max(1) as f64).min(1.0);
        let left = self.total.saturating_sub(rows) as f64 / rate.max(1.0);
        match &self.bar {
            Some((bar, stage)) => bar.set_message(format!(
                "{stage}{}{}: {} rows (about {:.0} %), {} rows/s, about {left:.0} s left",
                if stage.is_empty() { "" } else { " · " },
                self.name,
                thousands(rows as f64),
                share * 100.0,
                thousands(rate),
            )),
            None if self.last_line.elapsed() >= Duration::from_secs(10) => {
                line(&format!(
                    "retain: {}: {} rows (about {:.0} % of the estimate), {} rows/s so far",
                    self.name,
                    thousands(rows as f64),
                    share * 100.0,
                    thousands(rate)
                ));
                self.last_line = Instant::now();
            }
            None => {}
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Some((bar, stage)) = &self.bar {
            bar.set_message(stage.clone());
        }
    }
}

/// 1234567.8 as "1,234,568".
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_read_with_thousands_separators() {
        assert_eq!(super::thousands(1_234_567.8), "1,234,568");
        assert_eq!(super::thousands(999.0), "999");
        assert_eq!(super::thousands(1000.0), "1,000");
    }
}
