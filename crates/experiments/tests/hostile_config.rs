//! Hostile values in the main job's config: parsing and validation give `Ok` or an error, never
//! a panic, whatever number lands in whichever key.

use proptest::prelude::*;
use sotl_experiments::search::SearchConfig;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_number_in_any_key_parses_or_errs_and_validates_or_errs(
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(vec![
                "0", "1", "-1", "2", "1e308", "-0.0", "nan", "inf", "18446744073709551615",
                "9223372036854775807", "0.5", "65", "100000",
            ])),
            1..4,
        ),
    ) {
        let text = toml::to_string(&SearchConfig::default()).expect("the defaults serialize");
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let numeric: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.split_once(" = ").is_some_and(|(_, v)| v.parse::<f64>().is_ok()))
            .map(|(i, _)| i)
            .collect();
        prop_assert!(numeric.len() > 20, "the defaults have numeric keys");
        for (which, value) in edits {
            let i = numeric[which.index(numeric.len())];
            let key = lines[i].split_once(" = ").map(|(k, _)| k.to_string()).unwrap_or_default();
            lines[i] = format!("{key} = {value}");
        }
        if let Ok(cfg) = toml::from_str::<SearchConfig>(&lines.join("\n")) {
            let _ = cfg.validate();
            let _ = cfg.darts_run().validate();
            let _ = cfg.one_shot().validate();
        }
    }
}
