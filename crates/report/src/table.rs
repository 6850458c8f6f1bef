//! [`Table`]: a titled grid of strings, rendered as Markdown or CSV.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::write_file;
use crate::{ReportError, Result};

/// A table of already formatted cells (see [`crate::fmt_mean_std`] for "93.12 (0.45)" cells).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Caption, shown above the Markdown table (CSV has no place for it).
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells, each as wide as the header.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with the given caption and column names.
    pub fn new<S: Into<String>>(
        title: impl Into<String>,
        header: impl IntoIterator<Item = S>,
    ) -> Self {
        Self {
            title: title.into(),
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; errors if its width differs from the header's.
    pub fn push_row<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) -> Result<()> {
        let row: Vec<String> = row.into_iter().map(Into::into).collect();
        if row.len() != self.header.len() {
            return Err(ReportError::RowWidth {
                title: self.title.clone(),
                row: self.rows.len(),
                expected: self.header.len(),
                got: row.len(),
            });
        }
        self.rows.push(row);
        Ok(())
    }

    /// Number of columns: the widest of the header and the rows (rows built through the public
    /// fields may be ragged; renderers pad them with empty cells rather than drop cells).
    fn width(&self) -> usize {
        self.rows.iter().map(Vec::len).chain([self.header.len()]).max().unwrap_or(0)
    }

    /// GitHub-flavoured Markdown: a bold caption line (when the title is not empty), a blank line,
    /// then the table. `|` in a cell is escaped and line breaks become `<br>`.
    pub fn to_markdown(&self) -> String {
        let width = self.width();
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&format!("**{}**\n\n", self.title));
        }
        let line = |out: &mut String, cells: &[String]| {
            out.push('|');
            for i in 0..width {
                let cell = cells.get(i).map_or("", String::as_str);
                out.push(' ');
                out.push_str(&markdown_cell(cell));
                out.push_str(" |");
            }
            out.push('\n');
        };
        line(&mut out, &self.header);
        out.push('|');
        out.push_str(&" --- |".repeat(width));
        out.push('\n');
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }

    /// RFC 4180 CSV ([`crate::CsvText`]): the header line, then one line per row padded to
    /// the table's width. The title is not written.
    pub fn to_csv(&self) -> String {
        let width = self.width();
        let line = |cells: &[String]| -> Vec<String> {
            (0..width).map(|i| cells.get(i).cloned().unwrap_or_default()).collect()
        };
        let mut out = crate::CsvText::new(line(&self.header));
        for r in &self.rows {
            out.row(line(r));
        }
        out.finish()
    }

    /// Writes [`Table::to_markdown`] to `path` atomically.
    pub fn write_markdown(&self, path: &Path) -> Result<()> {
        write_file(path, self.to_markdown().as_bytes())
    }

    /// Writes [`Table::to_csv`] to `path` atomically.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        write_file(path, self.to_csv().as_bytes())
    }
}

fn markdown_cell(cell: &str) -> String {
    cell.replace('|', "\\|").replace("\r\n", "<br>").replace('\n', "<br>")
}
