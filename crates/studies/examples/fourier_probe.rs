//! Sweeps the Fourier degree search from the command line: `fourier_probe '{"prior": 0.01}'`
//! (a JSON object of `FourierConfig` overrides). Prints the final MaxDeg and the first step
//! within 0.5 of the true degree for every init and objective.

use sotl_studies::*;

fn main() -> Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "{}".into());
    let cfg: FourierConfig =
        serde_json::from_str(&arg).map_err(|e| StudiesError::Config(e.to_string()))?;
    cfg.validate()?;
    let data = fourier_data(&cfg, tch::Device::Cpu);
    let fixed = fixed_degree_sotl(&data, &cfg)?;
    let sotl: Vec<String> = fixed.iter().map(|r| format!("{}:{:.1}", r.degree, r.sotl)).collect();
    println!("fixed-degree SoTL {}", sotl.join(" "));
    let mut objs: Vec<DegreeObjective> =
        cfg.ts.iter().map(|&t| DegreeObjective::Sotl { t }).collect();
    if cfg.baseline {
        objs.push(DegreeObjective::ValOneStep);
    }
    for &init in &cfg.inits {
        for &o in &objs {
            let start = std::time::Instant::now();
            let r = degree_search(&data, &cfg, init, o)?;
            let mid: Vec<String> = [0.25, 0.5, 0.75]
                .iter()
                .map(|f| format!("{:.2}", r.trajectory[(r.trajectory.len() as f64 * f) as usize].1))
                .collect();
            println!(
                "init {init:>5} {o:<10} final {:>7.3} (terms {:>2}) within0.5 at {:?}  quarters {} [{:.1}s]",
                r.final_max_deg,
                r.final_terms,
                r.first_within_half,
                mid.join(" "),
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
