//! The training loop on a tiny conv net: determinism, exact resume, failures, evaluation schedule.

use sotl_train::{
    torch_rng_lock, Batch, BatchOutput, EvalSchedule, Event, LrSchedule, ParamGroup, RunStatus,
    Sgd, SgdConfig, TensorBatches, TrainError, Trainer, TrainerConfig, Transform,
};
use tch::nn::{self, ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

/// Conv-BN-ReLU, dropout, global pooling, linear: has buffers (BN statistics) and uses the RNG.
fn net(vs: &VarStore) -> impl ModuleT {
    let p = vs.root();
    nn::seq_t()
        .add(nn::conv2d(&p / "conv", 3, 6, 3, nn::ConvConfig { padding: 1, ..Default::default() }))
        .add(nn::batch_norm2d(&p / "bn", 6, Default::default()))
        .add_fn(|x| x.relu())
        .add_fn_t(|x, train| x.dropout(0.2, train))
        .add_fn(|x| x.mean_dim(&[2i64, 3][..], false, Kind::Float))
        .add(nn::linear(&p / "fc", 6, 3, Default::default()))
}

/// 96 images whose class is the brightest channel: learnable, and the same for every call.
fn data(n: i64, seed: i64) -> (Tensor, Tensor) {
    let _rng = torch_rng_lock();
    tch::manual_seed(seed);
    let x = Tensor::rand([n, 3, 8, 8], (Kind::Float, Device::Cpu));
    let y = x.mean_dim(&[2i64, 3][..], false, Kind::Float).argmax(1, false);
    (x, y)
}

/// Random horizontal flips drawn from libtorch's global generator (which the trainer seeds).
fn flip() -> Transform {
    Box::new(|x: &Tensor, _position| {
        let coin = Tensor::rand([x.size()[0], 1, 1, 1], (Kind::Float, x.device())).lt(0.5);
        x.flip([3]).where_self(&coin, x)
    })
}

fn config(epochs: usize) -> TrainerConfig {
    TrainerConfig {
        epochs,
        seed: 7,
        schedule: LrSchedule::nb201(epochs),
        grad_clip: Some(5.0),
        grad_stats: true,
        grad_accumulation: false,
        steps: None,
        eval: EvalSchedule {
            minibatch_every_steps: Some(2),
            full_every_epochs: Some(1),
            ..EvalSchedule::default()
        },
        checkpoint_every_steps: None,
    }
}

struct Setup {
    vs: VarStore,
    model: Box<dyn ModuleT>,
    trainer: Trainer<Sgd>,
    train: TensorBatches,
    val: TensorBatches,
}

fn setup(init_seed: i64, cfg: TrainerConfig) -> Setup {
    let vs = VarStore::new(Device::Cpu);
    let model: Box<dyn ModuleT> = {
        let _rng = torch_rng_lock();
        tch::manual_seed(init_seed);
        Box::new(net(&vs))
    };
    let opt = Sgd::new(ParamGroup::from_var_store(&vs).unwrap(), SgdConfig::nb201()).unwrap();
    let trainer = Trainer::new(cfg.clone(), opt, vs.variables().into_iter().collect()).unwrap();
    let (x, y) = data(96, 1);
    let train = TensorBatches::new(x, y, 16).unwrap().shuffled(cfg.seed).with_transform(flip());
    let (vx, vy) = data(40, 2);
    let val = TensorBatches::new(vx, vy, 16).unwrap();
    Setup { vs, model, trainer, train, val }
}

fn run(s: &mut Setup, max_steps: Option<usize>) -> Result<RunStatus, TrainError> {
    let model = &s.model;
    let mut objective = |b: &Batch, train: bool| {
        Ok(BatchOutput::classification(&model.forward_t(&b.inputs, train), &b.targets))
    };
    s.trainer.run(&mut s.train, Some(&mut s.val), &mut objective, &mut |_| {}, max_steps)
}

fn weights(vs: &VarStore) -> Vec<(String, Vec<f32>)> {
    let mut v: Vec<_> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, Vec::<f32>::try_from(t.detach().flatten(0, -1)).unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn same_seed_gives_identical_records_and_weights() {
    let mut a = setup(3, config(2));
    let mut b = setup(3, config(2));
    assert_eq!(run(&mut a, None).unwrap(), RunStatus::Finished);
    // Disturb the global generator between runs: the loop must not depend on it. (Under the
    // lock: unlocked, the draw could land inside another test's seeded step and change it.)
    {
        let _rng = torch_rng_lock();
        let _ = Tensor::rand([100], (Kind::Float, Device::Cpu));
    }
    assert_eq!(run(&mut b, None).unwrap(), RunStatus::Finished);
    let (ra, rb) = (a.trainer.record(), b.trainer.record());
    assert_eq!(ra.steps.len(), 2 * 6);
    assert_eq!(ra, rb);
    assert_eq!(weights(&a.vs), weights(&b.vs));
    // A different seed changes the record (the test would be vacuous otherwise).
    let mut cfg = config(2);
    cfg.seed = 8;
    let mut c = setup(3, cfg);
    run(&mut c, None).unwrap();
    assert_ne!(c.trainer.record().steps, ra.steps);
}

#[test]
fn resume_continues_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.ot");
    let k = 9; // mid-epoch (6 steps per epoch), so the data order and epoch summary must resume too
    let mut straight = setup(3, config(3));
    run(&mut straight, None).unwrap();

    let mut first = setup(3, config(3));
    first.trainer = std::mem::replace(&mut first.trainer, dummy()).with_checkpoint(&ck);
    assert_eq!(run(&mut first, Some(k)).unwrap(), RunStatus::Paused { step: k });
    drop(first); // "kill"

    // A fresh process would build the model from another init; the checkpoint must override it.
    let mut second = setup(99, config(3));
    second.trainer = std::mem::replace(&mut second.trainer, dummy()).with_checkpoint(&ck);
    assert!(second.trainer.resume_if_present().unwrap());
    assert_eq!(second.trainer.step(), k);
    assert_eq!(run(&mut second, None).unwrap(), RunStatus::Finished);

    assert_eq!(second.trainer.record(), straight.trainer.record());
    assert_eq!(weights(&second.vs), weights(&straight.vs));
    let strip = |e: &[sotl_train::EpochSummary]| {
        e.iter().map(|s| (s.epoch, s.train_loss, s.val_acc)).collect::<Vec<_>>()
    };
    assert_eq!(strip(second.trainer.epochs()), strip(straight.trainer.epochs()));
}

fn dummy() -> Trainer<Sgd> {
    let vs = VarStore::new(Device::Cpu);
    let _ = vs.root().zeros("w", &[1]);
    let opt = Sgd::new(ParamGroup::from_var_store(&vs).unwrap(), SgdConfig::nb201()).unwrap();
    Trainer::new(config(1), opt, vec![]).unwrap()
}

#[test]
fn resume_refuses_other_settings_and_corrupt_files() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.ot");
    let mut a = setup(3, config(2));
    a.trainer = std::mem::replace(&mut a.trainer, dummy()).with_checkpoint(&ck);
    run(&mut a, Some(6)).unwrap();
    let mut cfg = config(2);
    cfg.seed = 1;
    let mut b = setup(3, cfg);
    b.trainer = std::mem::replace(&mut b.trainer, dummy()).with_checkpoint(&ck);
    let e = b.trainer.resume_if_present().unwrap_err().to_string();
    assert!(e.contains("different settings"), "{e}");

    std::fs::write(&ck, b"not a checkpoint").unwrap();
    let mut c = setup(3, config(2));
    c.trainer = std::mem::replace(&mut c.trainer, dummy()).with_checkpoint(&ck);
    let e = c.trainer.resume_if_present().unwrap_err().to_string();
    assert!(e.contains("ckpt.ot") && e.contains("not a readable checkpoint"), "{e}");
}

#[test]
fn resume_refuses_a_checkpoint_of_another_format_version() {
    // A whole, checksummed checkpoint whose metadata says it was written by an older format:
    // refused by name, never read as if it were the current one.
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.ot");
    let mut a = setup(3, config(2));
    a.trainer = std::mem::replace(&mut a.trainer, dummy()).with_checkpoint(&ck);
    run(&mut a, Some(6)).unwrap();
    let (tensors, mut meta) = sotl_train::load_checkpoint(&ck, Device::Cpu).unwrap();
    assert_eq!(meta["format"], 1, "the current format");
    meta["format"] = 0.into();
    sotl_train::save_checkpoint(&ck, &tensors, &meta).unwrap();
    let mut b = setup(3, config(2));
    b.trainer = std::mem::replace(&mut b.trainer, dummy()).with_checkpoint(&ck);
    let e = b.trainer.resume_if_present().unwrap_err().to_string();
    assert!(e.contains("ckpt.ot") && e.contains("format 0 is not the supported 1"), "{e}");
}

#[test]
fn nan_loss_is_an_error_naming_the_step() {
    let mut s = setup(3, config(1));
    let model = &s.model;
    let mut calls = 0;
    let mut objective = |b: &Batch, train: bool| {
        calls += 1;
        let mut out = BatchOutput::classification(&model.forward_t(&b.inputs, train), &b.targets);
        if calls == 4 {
            out.loss *= f64::NAN;
        }
        Ok(out)
    };
    let e = s
        .trainer
        .run(&mut s.train, Some(&mut s.val), &mut objective, &mut |_| {}, None)
        .unwrap_err();
    // Calls: step 0, step 1, val minibatch after step 2... the 4th call is training step 2.
    match e {
        TrainError::NonFiniteLoss { step, epoch, value } => {
            assert_eq!((step, epoch), (2, 0));
            assert!(value.is_nan());
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    assert_eq!(s.trainer.record().steps.len(), 2);
}

#[test]
fn evaluations_follow_the_schedule_and_training_learns() {
    let mut s = setup(3, config(4));
    let (mut steps, mut vals, mut epochs) = (0, 0, 0);
    let model = &s.model;
    let mut objective = |b: &Batch, train: bool| {
        Ok(BatchOutput::classification(&model.forward_t(&b.inputs, train), &b.targets))
    };
    let mut on_event = |e: Event<'_>| match e {
        Event::Step { lr, .. } => {
            assert!(lr <= 0.1);
            steps += 1
        }
        Event::Val(_) => vals += 1,
        Event::Epoch(_) => epochs += 1,
        Event::Checkpoint { .. } => panic!("no checkpoint path was set"),
    };
    s.trainer.run(&mut s.train, Some(&mut s.val), &mut objective, &mut on_event, None).unwrap();
    assert_eq!((steps, epochs), (24, 4));
    let r = s.trainer.record();
    let mini: Vec<usize> = r
        .vals
        .iter()
        .filter(|v| v.scope == sotl_estimators::ValScope::Minibatch)
        .map(|v| v.step)
        .collect();
    assert_eq!(mini, (1..=12).map(|i| 2 * i).collect::<Vec<_>>());
    let full: Vec<usize> = r
        .vals
        .iter()
        .filter(|v| v.scope == sotl_estimators::ValScope::Full)
        .map(|v| v.step)
        .collect();
    assert_eq!(full, vec![6, 12, 18, 24]);
    assert_eq!(vals, 16);
    assert!(r.steps.iter().all(|s| s.grad_l1.unwrap() >= s.grad_sum.unwrap().abs()));
    assert_eq!(r.steps_per_epoch, 6);
    // 6*3*3*3 + 6 (conv) + 12 (BN affine) + 6*3 + 3 (fc) trainable scalars.
    assert_eq!(r.param_count, Some(162 + 6 + 12 + 18 + 3));
    let e = s.trainer.epochs();
    assert!(e[3].train_loss < e[0].train_loss, "loss did not fall: {e:?}");
    assert!((e[1].lr - LrSchedule::nb201(4).lr(1, 0.0)).abs() < 1e-15);
}

#[test]
fn evaluation_without_validation_data_is_refused() {
    let mut s = setup(3, config(1));
    let model = &s.model;
    let mut objective = |b: &Batch, train: bool| {
        Ok(BatchOutput::classification(&model.forward_t(&b.inputs, train), &b.targets))
    };
    let e = s.trainer.run(&mut s.train, None, &mut objective, &mut |_| {}, None).unwrap_err();
    assert!(e.to_string().contains("no validation batches"), "{e}");
}

/// A validation that records what the loop asked for and answers with hand-set values.
#[derive(Default)]
struct Scripted {
    calls: Vec<(&'static str, Option<usize>)>,
}

impl sotl_train::Validation for Scripted {
    fn is_empty(&self) -> bool {
        false
    }
    fn minibatch(
        &mut self,
        _: &mut dyn sotl_train::Objective,
        k: usize,
    ) -> sotl_train::Result<Vec<sotl_train::Measurement>> {
        self.calls.push(("mini", Some(k)));
        Ok(vec![sotl_train::Measurement {
            loss: k as f64,
            acc: 0.5,
            bn: sotl_estimators::BnStats::Batch,
        }])
    }
    fn full(
        &mut self,
        _: &mut dyn sotl_train::Objective,
    ) -> sotl_train::Result<Vec<sotl_train::Measurement>> {
        self.calls.push(("full", None));
        Ok([sotl_estimators::BnStats::Batch, sotl_estimators::BnStats::Running]
            .map(|bn| sotl_train::Measurement { loss: 1.0, acc: 0.25, bn })
            .to_vec())
    }
}

#[test]
fn objective_gradients_a_step_budget_and_step_scheduled_evaluations() {
    // Two scalar weights; the objective hands the loop its own gradients: 2 for `a`, none for
    // `b` (a weight off a sampled path), so only `a` moves and `b` gets no weight decay.
    let a = Tensor::from(1.0f64).set_requires_grad(true);
    let b = Tensor::from(3.0f64).set_requires_grad(true);
    let group =
        ParamGroup::new(vec![("a".into(), a.shallow_clone()), ("b".into(), b.shallow_clone())])
            .unwrap();
    let sgd =
        SgdConfig { lr: 0.0, momentum: 0.0, dampening: 0.0, weight_decay: 0.1, nesterov: false };
    let mut opt = Sgd::new(group, sgd).unwrap();
    let cfg = TrainerConfig {
        epochs: 2,
        seed: 0,
        schedule: LrSchedule::Constant { lr: 0.1 },
        grad_clip: None,
        grad_stats: true,
        grad_accumulation: true,
        steps: Some(5),
        eval: EvalSchedule {
            minibatch_every_steps: Some(3),
            full_every_epochs: None,
            full_every_steps: Some(2),
            at_start: true,
        },
        checkpoint_every_steps: None,
    };
    // A borrowed optimizer, as the finetuner lends its own to one loop per candidate.
    let mut trainer = Trainer::new(cfg, &mut opt, vec![]).unwrap();
    // 10 examples in batches of 4: 3 batches an epoch (the last one partial).
    let (x, y) = data(10, 4);
    let mut train = TensorBatches::new(x, y, 4).unwrap();
    let mut val = Scripted::default();
    let mut objective = |_: &Batch, _: bool| {
        Ok(BatchOutput::with_grads(
            Tensor::from(0.7f64),
            Some(Tensor::from(1.0f64)),
            vec![Some(Tensor::from(2.0f64)), None],
        ))
    };
    let status =
        trainer.run(&mut train, Some(&mut val), &mut objective, &mut |_| {}, None).unwrap();
    assert_eq!(status, RunStatus::Finished, "5 steps is the whole budget");
    // SGD with decay 0.1 by hand: a <- a - 0.1 (2 + 0.1 a), five times.
    let mut want = 1.0f64;
    for _ in 0..5 {
        want -= 0.1 * (2.0 + 0.1 * want);
    }
    assert!((a.double_value(&[]) - want).abs() < 1e-12, "{} vs {want}", a.double_value(&[]));
    assert_eq!(b.double_value(&[]), 3.0, "no gradient, so no decay either");
    let r = trainer.record();
    assert_eq!(r.steps.len(), 5);
    assert_eq!(r.steps.iter().map(|s| s.epoch).collect::<Vec<_>>(), vec![0, 0, 0, 1, 1]);
    for (s, step) in r.steps.iter().enumerate() {
        assert_eq!((step.train_loss, step.grad_sum, step.grad_l1), (0.7, Some(2.0), Some(2.0)));
        // The running sum of `a`'s gradient is 2 (s + 1).
        assert_eq!(step.grad_acc_l1, Some(2.0 * (s + 1) as f64));
    }
    // Before the first step: whole set, then minibatch 0; then the whole set after steps 2 and
    // 4 and minibatch 1 after step 3. Every BN mode a measurement gives is recorded.
    assert_eq!(
        val.calls,
        vec![("full", None), ("mini", Some(0)), ("full", None), ("mini", Some(1)), ("full", None)]
    );
    let got: Vec<(usize, usize, bool, sotl_estimators::BnStats)> = r
        .vals
        .iter()
        .map(|v| (v.step, v.epoch, v.scope == sotl_estimators::ValScope::Full, v.bn))
        .collect();
    use sotl_estimators::BnStats::{Batch as B, Running as R};
    assert_eq!(
        got,
        vec![
            (0, 0, true, B),
            (0, 0, true, R),
            (0, 0, false, B),
            (2, 0, true, B),
            (2, 0, true, R),
            (3, 0, false, B),
            (4, 1, true, B),
            (4, 1, true, R),
        ]
    );
    assert_eq!(trainer.epochs().len(), 1, "only epoch 0 ran to its end");
}

#[test]
fn a_step_budget_beyond_the_epochs_and_a_wrong_gradient_count_are_refused() {
    let w = Tensor::from(1.0f64).set_requires_grad(true);
    let group = ParamGroup::new(vec![("w".into(), w)]).unwrap();
    let mut opt = Sgd::new(group, SgdConfig::nb201()).unwrap();
    let (x, y) = data(8, 5);
    let mut train = TensorBatches::new(x, y, 4).unwrap();
    let cfg = TrainerConfig {
        epochs: 1,
        steps: Some(3),
        eval: EvalSchedule::default(),
        grad_clip: None,
        ..config(1)
    };
    let mut objective = |_: &Batch, _: bool| {
        Ok(BatchOutput::with_grads(Tensor::from(0.5f64), None, vec![None, None]))
    };
    let mut t = Trainer::new(cfg.clone(), &mut opt, vec![]).unwrap();
    let e = t.run(&mut train, None, &mut objective, &mut |_| {}, None).unwrap_err().to_string();
    assert!(e.contains("3 steps do not fit in 1 epochs of 2 batches"), "{e}");
    let mut t = Trainer::new(TrainerConfig { steps: Some(2), ..cfg }, &mut opt, vec![]).unwrap();
    let e = t.run(&mut train, None, &mut objective, &mut |_| {}, None).unwrap_err().to_string();
    assert!(e.contains("2 gradients for 1 parameters"), "{e}");
}

#[test]
fn resume_with_accumulated_gradients_continues_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ckpt.ot");
    let cfg = TrainerConfig { grad_accumulation: true, ..config(2) };
    let mut straight = setup(3, cfg.clone());
    run(&mut straight, None).unwrap();
    let mut first = setup(3, cfg.clone());
    first.trainer = std::mem::replace(&mut first.trainer, dummy()).with_checkpoint(&ck);
    assert_eq!(run(&mut first, Some(7)).unwrap(), RunStatus::Paused { step: 7 });
    drop(first);
    let mut second = setup(99, cfg);
    second.trainer = std::mem::replace(&mut second.trainer, dummy()).with_checkpoint(&ck);
    assert!(second.trainer.resume_if_present().unwrap());
    run(&mut second, None).unwrap();
    let r = second.trainer.record();
    assert_eq!(r, straight.trainer.record());
    // The running sum's L1 norm is at most the sum of the steps' L1 norms, and it is recorded.
    let mut l1_so_far = 0.0;
    for s in &r.steps {
        l1_so_far += s.grad_l1.unwrap();
        assert!(s.grad_acc_l1.unwrap() <= l1_so_far * (1.0 + 1e-9));
    }
    assert_eq!(weights(&second.vs), weights(&straight.vs));
}

#[test]
fn step_records_are_read_in_batches_never_inside_a_step() {
    // 1 epoch of 80 batches of 4, no evaluation: the records of steps 0..31 are read (and
    // reported) after the 32nd step, those of 32..63 after the 64th, the rest at the end.
    assert_eq!(sotl_train::READ_EVERY_STEPS, 32);
    let mut cfg = config(1);
    cfg.eval = EvalSchedule::default();
    let mut s = setup(3, cfg);
    let (x, y) = data(320, 1);
    s.train = TensorBatches::new(x, y, 4).unwrap();
    let model = &s.model;
    let calls = std::cell::Cell::new(0usize);
    let mut objective = |b: &Batch, train: bool| {
        calls.set(calls.get() + 1);
        Ok(BatchOutput::classification(&model.forward_t(&b.inputs, train), &b.targets))
    };
    let mut seen = Vec::new();
    let mut on_event = |e: Event<'_>| {
        if let Event::Step { record, .. } = e {
            seen.push((record.step, calls.get()));
        }
    };
    s.trainer.run(&mut s.train, None, &mut objective, &mut on_event, None).unwrap();
    assert_eq!(seen.len(), 80);
    for (k, &(step, calls_then)) in seen.iter().enumerate() {
        assert_eq!(step, k, "in step order");
        let expected = if k < 32 {
            32
        } else if k < 64 {
            64
        } else {
            80
        };
        assert_eq!(calls_then, expected, "step {k} was reported after {calls_then} steps");
    }
    // The records are complete and finite, gradient statistics included.
    let r = s.trainer.record();
    assert_eq!(r.steps.len(), 80);
    assert!(r.steps.iter().all(|s| s.train_loss.is_finite() && s.grad_l1.is_some()));
}
