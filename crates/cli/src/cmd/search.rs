//! `sotl-nas search`: the main job (`sotl_experiments::search`). Flags to config, then print.

use std::path::PathBuf;

use anyhow::{bail, Result};
use sotl_experiments::search::{run_search, OnCollapse, SearchConfig, SearchMethod};

use crate::common::{load_config, print_json, Global};

/// Parses a search method; `--help` lists every name.
fn search_method() -> impl clap::builder::TypedValueParser<Value = SearchMethod> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(SearchMethod::ALL.map(SearchMethod::name))
        .map(|s| s.parse::<SearchMethod>().expect("a listed method parses"))
}

/// Parses an `on_collapse` value; `--help` lists every name.
fn on_collapse() -> impl clap::builder::TypedValueParser<Value = OnCollapse> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(OnCollapse::ALL.map(OnCollapse::name))
        .map(|s| s.parse::<OnCollapse>().expect("a listed value parses"))
}

/// Arguments of `search`. Each flag overrides a key of the config (`sotl-nas config defaults
/// search` prints them all); size flags apply to the chosen method's budget.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// How to choose a cell (`method`): SoTL-DARTS (default), regularized evolution over an SPOS
    /// supernet with finetuning SoTL as the fitness, or the lowest finetuning SoTL of a random
    /// pool.
    #[arg(long, value_parser = search_method())]
    method: Option<SearchMethod>,
    /// TOML config (`method`, `seed`, `[darts]`, `[oneshot]`); flags override its keys.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The seed of every random choice (`seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Search epochs (`darts.search.epochs`) or supernet epochs (`oneshot.train.epochs`).
    #[arg(long)]
    epochs: Option<usize>,
    /// Training images kept (`darts.data.n_train` / `oneshot.data.n_train`, 0 = all).
    #[arg(long)]
    n_train: Option<usize>,
    /// Validation images kept (`darts.data.n_val` / `oneshot.data.n_val`, 0 = all).
    #[arg(long)]
    n_val: Option<usize>,
    /// Supernet channels C (`darts.net.channels` / `oneshot.net.channels`).
    #[arg(long)]
    channels: Option<i64>,
    /// Cells per stage N (`darts.net.cells_per_stage` / `oneshot.net.cells_per_stage`).
    #[arg(long)]
    cells: Option<usize>,
    /// sotl-darts: T, the training losses summed per alpha step (`darts.search.unroll_steps`).
    #[arg(long, visible_alias = "t")]
    unroll_steps: Option<usize>,
    /// sotl-darts: epochs at the start that train the weights alone
    /// (`darts.search.arch_warmup_epochs`).
    #[arg(long)]
    arch_warmup_epochs: Option<usize>,
    /// sotl-darts: what to choose when the final argmax has collapsed toward skip connections
    /// (`darts.on_collapse`): the argmax of the latest epoch before the collapse, or the
    /// collapsed cell with a warning.
    #[arg(long, value_parser = on_collapse())]
    on_collapse: Option<OnCollapse>,
    /// evolution: fitness evaluations (`oneshot.evolution.budget`).
    #[arg(long)]
    budget: Option<usize>,
    /// pool: pool size (`oneshot.pool.size`).
    #[arg(long)]
    pool_size: Option<usize>,
    /// sotl-darts: finalists re-ranked by finetuning SoTL, the this-many most probable cells
    /// under the final op weights (`darts.finalists`; 0 = the argmax is the choice).
    #[arg(long)]
    finalists: Option<usize>,
    /// Finetuning minibatches per candidate (`oneshot.finetune.steps` / sotl-darts finalists:
    /// `darts.finetune.steps`).
    #[arg(long)]
    finetune_steps: Option<usize>,
    /// The SoTL window (`oneshot.finetune.sotl_window` / `darts.finetune.sotl_window`).
    #[arg(long)]
    sotl_window: Option<usize>,
    /// evolution, pool: cap on supernet steps (`oneshot.train.max_steps`).
    #[arg(long)]
    max_steps: Option<usize>,
    /// Output folder; rerun with the same folder to resume.
    #[arg(long, default_value = "runs/search")]
    out: PathBuf,
    /// evolution, pool: how many of the ranking to print.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

impl SearchArgs {
    /// The config file (or the defaults) with these flags applied.
    fn resolve(&self) -> Result<SearchConfig> {
        let mut c: SearchConfig = load_config(self.config.as_deref())?;
        set(&mut c.method, self.method);
        set(&mut c.seed, self.seed);
        let one_shot_only = [
            ("--budget", self.budget.is_some()),
            ("--pool-size", self.pool_size.is_some()),
            ("--max-steps", self.max_steps.is_some()),
        ];
        if c.method.is_one_shot() {
            for (flag, given) in [
                ("--unroll-steps", self.unroll_steps.is_some()),
                ("--arch-warmup-epochs", self.arch_warmup_epochs.is_some()),
                ("--finalists", self.finalists.is_some()),
                ("--on-collapse", self.on_collapse.is_some()),
            ] {
                if given {
                    bail!("{flag} is a sotl-darts setting, but the method is {}", c.method);
                }
            }
        } else if let Some((flag, _)) = one_shot_only.iter().find(|(_, given)| *given) {
            bail!(
                "{flag} is a setting of the one-shot methods, but the method is {}; add --method evolution or --method pool",
                c.method
            );
        }
        // The flags both kinds share set the chosen kind's keys.
        let (epochs, n_train, n_val, channels, cells) = if c.method.is_one_shot() {
            let o = &mut c.oneshot;
            (
                &mut o.train.epochs,
                &mut o.data.n_train,
                &mut o.data.n_val,
                &mut o.net.channels,
                &mut o.net.cells_per_stage,
            )
        } else {
            let d = &mut c.darts;
            (
                &mut d.search.epochs,
                &mut d.data.n_train,
                &mut d.data.n_val,
                &mut d.net.channels,
                &mut d.net.cells_per_stage,
            )
        };
        set(epochs, self.epochs);
        set(n_train, self.n_train);
        set(n_val, self.n_val);
        set(channels, self.channels);
        set(cells, self.cells);
        set(&mut c.darts.search.unroll_steps, self.unroll_steps);
        set(&mut c.darts.search.arch_warmup_epochs, self.arch_warmup_epochs);
        set(&mut c.darts.finalists, self.finalists);
        set(&mut c.darts.on_collapse, self.on_collapse);
        if self.on_collapse.is_some() && c.darts.finalists > 0 {
            bail!(
                "--on-collapse chooses between the argmax cells of the search's epochs, but darts.finalists is {}: the finalists decide; drop one of the two",
                c.darts.finalists
            );
        }
        let finetune_flags = self.finetune_steps.is_some() || self.sotl_window.is_some();
        if !c.method.is_one_shot() && c.darts.finalists == 0 && finetune_flags {
            bail!(
                "--finetune-steps and --sotl-window set the finetuning of sotl-darts finalists, but darts.finalists is 0; add --finalists N"
            );
        }
        let finetune =
            if c.method.is_one_shot() { &mut c.oneshot.finetune } else { &mut c.darts.finetune };
        if let Some(v) = self.finetune_steps {
            finetune.steps = v;
            finetune.sotl_window = finetune.sotl_window.min(v);
        }
        set(&mut finetune.sotl_window, self.sotl_window);
        let o = &mut c.oneshot;
        set(&mut o.evolution.budget, self.budget);
        set(&mut o.pool.size, self.pool_size);
        set(&mut o.train.max_steps, self.max_steps);
        c.validate()?;
        Ok(c)
    }
}

/// `*key = v` when the flag was given.
fn set<T: Copy>(key: &mut T, flag: Option<T>) {
    if let Some(v) = flag {
        *key = v;
    }
}

/// Runs `search`.
pub fn run(args: SearchArgs, g: &Global) -> Result<()> {
    g.apply_threads();
    let env = g.env()?;
    let cfg = args.resolve()?;
    let report = run_search(&env, &cfg, args.top, &args.out)?;
    if g.json {
        return print_json(&report);
    }
    print!("{}", report.to_text());
    Ok(())
}
