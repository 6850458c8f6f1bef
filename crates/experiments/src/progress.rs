//! Stderr for people: progress (bars on a terminal, a plain line every 30 seconds in a log
//! file) and log messages.

use crate::ProgressSink;

/// Sends the library's `tracing` messages at `level` and above to stderr, as plain lines
/// (coloured on a terminal); a second call changes nothing.
pub fn log_to_stderr(level: tracing::Level) {
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Progress on stderr for each loop of a driver (the CLI's and the Python package's): a bar
/// on a terminal, periodic plain lines when stderr is a file.
pub struct StderrProgress;

impl ProgressSink for StderrProgress {
    fn start(&self, len: u64, prefix: &str) -> Box<dyn crate::Progress> {
        Box::new(StderrBar::new(len, prefix))
    }
}

impl crate::Progress for StderrBar {
    fn set_length(&self, len: u64) {
        match &self.bar {
            Some(b) => b.set_length(len),
            None => self.state.borrow_mut().len = len,
        }
    }
    fn set_position(&self, pos: u64) {
        StderrBar::set_position(self, pos)
    }
    fn set_message(&self, msg: String) {
        StderrBar::set_message(self, msg)
    }
    fn finish(&self) {
        StderrBar::finish(self)
    }
}

/// Progress of a long loop on stderr: a bar on a terminal; when stderr is a file (cluster logs),
/// one plain line every 30 seconds and one at the end instead.
pub struct StderrBar {
    bar: Option<indicatif::ProgressBar>,
    state: std::cell::RefCell<PlainState>,
}

struct PlainState {
    prefix: String,
    len: u64,
    pos: u64,
    msg: String,
    start: std::time::Instant,
    last: std::time::Instant,
}

impl StderrBar {
    /// A progress report over `len` units, labelled `prefix`.
    pub fn new(len: u64, prefix: &str) -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(len);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {elapsed} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(prefix.to_string());
            bar
        });
        let now = std::time::Instant::now();
        let state = PlainState {
            prefix: prefix.to_string(),
            len,
            pos: 0,
            msg: String::new(),
            start: now,
            last: now,
        };
        StderrBar { bar, state: std::cell::RefCell::new(state) }
    }

    /// Sets the position.
    pub fn set_position(&self, pos: u64) {
        match &self.bar {
            Some(b) => b.set_position(pos),
            None => {
                self.state.borrow_mut().pos = pos;
                self.maybe_print(false);
            }
        }
    }

    /// Sets the trailing message.
    pub fn set_message(&self, msg: String) {
        match &self.bar {
            Some(b) => b.set_message(msg),
            None => self.state.borrow_mut().msg = msg,
        }
    }

    /// Ends the report (clears the bar; a final plain line when stderr is a file).
    pub fn finish(&self) {
        match &self.bar {
            Some(b) => b.finish_and_clear(),
            None => self.maybe_print(true),
        }
    }

    fn maybe_print(&self, force: bool) {
        let mut s = self.state.borrow_mut();
        if force || s.last.elapsed().as_secs() >= 30 {
            s.last = std::time::Instant::now();
            eprintln!(
                "{} {}/{} {:.0}s {}",
                s.prefix,
                s.pos,
                s.len,
                s.start.elapsed().as_secs_f64(),
                s.msg
            );
        }
    }
}
