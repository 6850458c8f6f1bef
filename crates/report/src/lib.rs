//! Run records, Markdown/CSV tables and plots. Pure: no tensors.
//!
//! The last library layer before the CLI: search crates return values, and this crate turns them
//! into files a person reads (Markdown, SVG) and files a program reads (CSV, JSON), written
//! atomically.

mod atomic;

pub use atomic::{write_atomic, write_json_atomic};
