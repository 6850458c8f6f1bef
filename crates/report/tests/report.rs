//! Tables, mean/std cells and SVG plots, checked on exact output and on files written to disk.

use sotl_report::{fmt_mean_std, plot_lines, render_svg, LinePlot, ReportError, Series, Table};

fn small_table() -> Table {
    let mut t = Table::new("CIFAR-10 ranking", ["estimator", "spearman", "top-10 acc"]);
    t.push_row(["SoTL", "0.91", fmt_mean_std(93.1234, 0.4456, 2).as_str()]).unwrap();
    t.push_row(["ValAcc", "0.75", "92.50 (0.10)"]).unwrap();
    t
}

#[test]
fn markdown_is_exact() {
    let expected = "\
**CIFAR-10 ranking**

| estimator | spearman | top-10 acc |
| --- | --- | --- |
| SoTL | 0.91 | 93.12 (0.45) |
| ValAcc | 0.75 | 92.50 (0.10) |
";
    assert_eq!(small_table().to_markdown(), expected);
    // No caption line for an untitled table; pipes in cells are escaped.
    let mut t = Table::new("", ["arch"]);
    t.push_row(["|none~0|+|skip_connect~0|"]).unwrap();
    assert_eq!(t.to_markdown(), "| arch |\n| --- |\n| \\|none~0\\|+\\|skip_connect~0\\| |\n");
}

#[test]
fn csv_is_exact_and_quotes_when_needed() {
    assert_eq!(
        small_table().to_csv(),
        "estimator,spearman,top-10 acc\nSoTL,0.91,93.12 (0.45)\nValAcc,0.75,92.50 (0.10)\n"
    );
    let mut t = Table::new("quoting", ["name", "note"]);
    t.push_row(["a,b", "say \"hi\""]).unwrap();
    t.push_row(["two\nlines", " padded "]).unwrap();
    t.push_row(["plain", ""]).unwrap();
    let csv = t.to_csv();
    // RFC 4180: spaces are part of a field, so " padded " needs no quotes; commas, quotes and
    // line breaks do.
    assert_eq!(csv, "name,note\n\"a,b\",\"say \"\"hi\"\"\"\n\"two\nlines\", padded \nplain,\n");
    // An independent CSV reader gets the original cells back.
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::None).from_reader(csv.as_bytes());
    let back: Vec<Vec<String>> =
        reader.records().map(|r| r.unwrap().iter().map(String::from).collect()).collect();
    assert_eq!(back, t.rows);
}

#[test]
fn ragged_rows_are_rejected() {
    let mut t = Table::new("t", ["a", "b"]);
    let err = t.push_row(["only one"]).unwrap_err();
    assert!(matches!(err, ReportError::RowWidth { row: 0, expected: 2, got: 1, .. }));
    assert!(err.to_string().contains("row 0 has 1 cells but the header has 2"), "{err}");
    assert!(t.rows.is_empty());
}

#[test]
fn tables_are_written_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let t = small_table();
    t.write_markdown(&dir.path().join("sub/t.md")).unwrap();
    t.write_csv(&dir.path().join("t.csv")).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("sub/t.md")).unwrap(), t.to_markdown());
    assert_eq!(std::fs::read_to_string(dir.path().join("t.csv")).unwrap(), t.to_csv());
}

fn sample_plot() -> LinePlot {
    LinePlot {
        title: "Spearman vs epoch & <budget>".into(),
        x_label: "epoch".into(),
        y_label: "Spearman rho".into(),
        series: vec![
            Series {
                name: "SoTL-E".into(),
                points: (0..10).map(|i| (i as f64, 0.5 + 0.04 * i as f64)).collect(),
            },
            Series {
                name: "ValAcc".into(),
                points: (0..10).map(|i| (i as f64, 0.3 + 0.03 * i as f64)).collect(),
            },
            Series { name: "single point".into(), points: vec![(4.0, 0.1)] },
        ],
    }
}

/// Text content of every `<text>` element.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn plot_file_is_valid_svg_with_labels_and_legend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plots/spearman.svg");
    plot_lines(&path, &sample_plot()).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    let texts = svg_texts(&svg);
    for want in [
        "Spearman vs epoch & <budget>",
        "epoch",
        "Spearman rho",
        "SoTL-E",
        "ValAcc",
        "single point",
    ] {
        assert!(texts.iter().any(|t| t == want), "missing text {want:?} in {texts:?}");
    }
    // Tick labels are there too (x runs 0..9).
    assert!(texts.iter().any(|t| t == "0") && texts.iter().any(|t| t == "9"), "{texts:?}");
    // One polyline per series with two or more points, in distinct colours.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let strokes: Vec<&str> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "polyline" && n.attribute("stroke-width") == Some("2"))
        .filter_map(|n| n.attribute("stroke"))
        .collect();
    assert!(strokes.contains(&"#1F77B4") && strokes.contains(&"#FF7F0E"), "{strokes:?}");
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn degenerate_ranges_still_render() {
    let plot = LinePlot {
        title: "flat".into(),
        series: vec![Series { name: "const".into(), points: vec![(1.0, 5.0), (1.0, 5.0)] }],
        ..Default::default()
    };
    let texts = svg_texts(&render_svg(&plot).unwrap());
    assert!(texts.iter().any(|t| t == "const"));
}

#[test]
fn bad_plots_are_errors() {
    let empty = LinePlot { title: "nothing".into(), ..Default::default() };
    assert!(matches!(render_svg(&empty), Err(ReportError::EmptyPlot(t)) if t == "nothing"));
    let no_points =
        LinePlot { series: vec![Series { name: "s".into(), points: vec![] }], ..empty.clone() };
    assert!(matches!(render_svg(&no_points), Err(ReportError::EmptyPlot(_))));

    let mut nan = sample_plot();
    nan.series[1].points[3].1 = f64::NAN;
    let err = render_svg(&nan).unwrap_err();
    assert!(
        matches!(&err, ReportError::NonFinitePoint { series, index: 3, .. } if series == "ValAcc")
    );
    assert!(err.to_string().contains("must be finite"), "{err}");

    // An unwritable destination names the path.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = plot_lines(&blocker.join("plot.svg"), &sample_plot()).unwrap_err();
    assert!(
        matches!(&err, ReportError::Io { path, .. } if path.ends_with("file/plot.svg")),
        "{err}"
    );
}
