//! Run records, Markdown/CSV tables and plots.
