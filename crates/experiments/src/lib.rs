//! The experiment layer: what a study needs around the algorithms. A run folder ([`RunDir`]:
//! claim, config check, resume, atomic outputs), the data and ground truth a study reads
//! ([`data`], [`truth`]), and one driver per study or job ([`oneshot`], [`search`], [`darts`], [`hypergrad`], [`fourier`], [`baselines`], [`standalone`], [`export`]).
//!
//! Drivers take an [`Env`] (device, data root, progress sink) and an output path and return
//! values; the CLI decides where a run goes and how progress is shown, then prints what comes
//! back. Errors are `anyhow` chains whose outer context names the file or setting to fix.

pub mod baselines;
pub mod curves;
pub mod darts;
pub mod data;
pub mod data_check;
pub mod diagram;
mod env;
pub mod export;
pub mod fourier;
pub mod hypergrad;
pub mod inspect;
pub mod oneshot;
mod progress;
mod run_dir;
pub mod search;
pub mod shard;
pub mod standalone;
pub mod truth;

pub use env::{parse_device, resolve_data_root, Env, Progress, ProgressSink, Silent};
pub use progress::{log_to_stderr, StderrBar, StderrProgress};
pub use run_dir::{read_json, RunDir};

/// `base` with its top-level keys replaced by `keys`, as a config file or a Python dict replaces
/// them (a table given replaces the whole table; its missing keys take their defaults). Unknown
/// keys are refused by `T`.
pub fn config_over<T>(
    base: T,
    keys: serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<T>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    use anyhow::Context;
    let mut merged = match serde_json::to_value(&base).context("serializing the defaults")? {
        serde_json::Value::Object(m) => m,
        _ => anyhow::bail!("a config type that is not a table"),
    };
    merged.extend(keys);
    serde_json::from_value(serde_json::Value::Object(merged)).map_err(anyhow::Error::from)
}

/// The error and its causes as one line for people (the CLI's and the Python package's
/// messages), `: `-separated, leaving out a cause whose text the message already holds (many
/// error types print their source inside their own message).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::other("No space left on device");
        let inner = anyhow::Error::new(io).context("cannot write a.ot: No space left on device");
        let e = inner.context("while saving the checkpoint");
        assert_eq!(
            error_text(&e),
            "while saving the checkpoint: cannot write a.ot: No space left on device"
        );
    }
}
