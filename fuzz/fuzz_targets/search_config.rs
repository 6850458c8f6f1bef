//! Every TOML config a command reads (`search`, `oneshot`, `darts`, `train`/`evaluate`,
//! `hypergrad`): parsing and validation give `Ok` or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotl_experiments::search::SearchConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(cfg) = toml::from_str::<SearchConfig>(s) {
        let _ = cfg.validate();
        let _ = cfg.darts_run().validate();
        let _ = cfg.one_shot().validate();
    }
    if let Ok(cfg) = toml::from_str::<sotl_search::OneShotConfig>(s) {
        let _ = cfg.validate();
    }
    if let Ok(cfg) = toml::from_str::<sotl_search::DartsRunConfig>(s) {
        let _ = cfg.validate();
    }
    if let Ok(cfg) = toml::from_str::<sotl_train::TrainRunConfig>(s) {
        let _ = cfg.validate();
    }
    if let Ok(cfg) = toml::from_str::<sotl_studies::HypergradConfig>(s) {
        let _ = cfg.validate();
    }
});
