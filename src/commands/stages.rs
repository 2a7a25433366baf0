//! Progress through the stages of a long command, on stderr: a bar over the stages with the
//! running one and the elapsed time on a terminal, plain lines otherwise (a scheduler's log).
//! Also keeps the time each stage took.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::progress::ACTIVE;
pub(crate) use crate::progress::line;

pub(crate) struct Stages {
    total: usize,
    done: usize,
    current: Option<(&'static str, Instant)>,
    timings: Vec<(&'static str, f64)>,
    /// The progress bar over all stages, on a terminal only.
    bar: Option<ProgressBar>,
}

impl Stages {
    pub(crate) fn new(total: usize) -> Stages {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "retain: {spinner} [{bar:24}] {pos}/{len} {msg} ({elapsed})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            if let Ok(mut active) = ACTIVE.lock() {
                *active = Some((bar.clone(), String::new()));
            }
            bar
        });
        Stages {
            total,
            done: 0,
            current: None,
            timings: Vec::new(),
            bar,
        }
    }

    /// Ends the running stage (if any) and starts `name`.
    pub(crate) fn start(&mut self, name: &'static str) {
        self.end();
        self.done += 1;
        match &self.bar {
            Some(bar) => {
                bar.set_message(name);
                if let Ok(mut active) = ACTIVE.lock()
                    && let Some((_, stage)) = active.as_mut()
                {
                    *stage = name.to_string();
                }
            }
            None => eprintln!("retain: [{}/{}] {name}", self.done, self.total),
        }
        self.current = Some((name, Instant::now()));
    }

    /// Ends the running stage, recording its time.
    pub(crate) fn end(&mut self) {
        let Some((name, started)) = self.current.take() else {
            return;
        };
        crate::memory::release();
        let seconds = started.elapsed().as_secs_f64();
        self.timings.push((name, seconds));
        line(&format!(
            "retain: [{}/{}] {name}: {seconds:.2} s",
            self.done, self.total
        ));
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Seconds per stage, rounded to milliseconds.
    pub(crate) fn timings(&mut self) -> BTreeMap<String, f64> {
        self.end();
        self.timings
            .iter()
            .map(|(name, s)| (name.replace(' ', "_"), (s * 1000.0).round() / 1000.0))
            .collect()
    }
}

impl Drop for Stages {
    fn drop(&mut self) {
        if let Ok(mut active) = ACTIVE.lock() {
            active.take();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
