//! The one CSV writer of the workspace.

/// Builds RFC 4180 CSV text with the `csv` crate: `\n` line ends, a field quoted (quotes
/// doubled) only when it holds a comma, quote or line break.
#[derive(Debug)]
pub struct CsvText {
    w: csv::Writer<Vec<u8>>,
}

impl CsvText {
    /// A document whose first line is `header`.
    pub fn new<I, T>(header: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .flexible(true)
            .from_writer(Vec::new());
        let mut doc = CsvText { w };
        doc.row(header);
        doc
    }

    /// Appends one line.
    pub fn row<I, T>(&mut self, cells: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        // Writing into memory cannot fail: no I/O, and `flexible` allows any row length.
        let _ = self.w.write_record(cells);
    }

    /// The text.
    pub fn finish(self) -> String {
        // Flushing into memory cannot fail, and every cell came from a `str`: valid UTF-8.
        let bytes = self.w.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_quoting() {
        let mut c = CsvText::new(["a", "b"]);
        c.row(["1", "x,y"]);
        c.row(["say \"hi\"", ""]);
        assert_eq!(c.finish(), "a,b\n1,\"x,y\"\n\"say \"\"hi\"\"\",\n");
    }
}
