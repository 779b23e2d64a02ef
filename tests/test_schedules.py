import pytest

from vidpred.schedules import KLAnnealing, TeacherForcing


def test_cyclical_beta_matches_hand_computed_values():
    # 1000 steps, 4 cycles of 250 steps, rising over the first half (125 steps) of each
    s = KLAnnealing("cyclical", total_steps=1000, n_cycles=4, ratio=0.5, beta_max=1.0)
    assert s(0) == 0.0
    assert s(50) == pytest.approx(50 / 125)
    assert s(124) == pytest.approx(124 / 125)
    assert s(125) == 1.0 and s(249) == 1.0
    assert s(250) == 0.0                      # a new cycle starts from zero
    assert s(250 + 100) == pytest.approx(100 / 125)
    assert s(999) == 1.0 and s(5000) == 1.0   # past the end holds the last value


def test_monotonic_rises_once_and_none_is_constant():
    m = KLAnnealing("monotonic", total_steps=1000, n_cycles=4, ratio=0.25, beta_max=1e-4)
    assert m(0) == 0.0 and m(125) == pytest.approx(0.5e-4) and m(250) == pytest.approx(1e-4)
    assert m(600) == pytest.approx(1e-4)      # no second cycle
    n = KLAnnealing("none", total_steps=1000, beta_max=3e-3)
    assert {n(i) for i in (0, 1, 500, 999)} == {3e-3}


def test_teacher_forcing_decays_from_its_start_epoch_to_the_floor():
    tf = TeacherForcing(start=1.0, decay_start=10, decay_step=0.1, floor=0.25)
    assert tf(0) == 1.0 and tf(9) == 1.0
    assert tf(10) == pytest.approx(0.9)
    assert tf(14) == pytest.approx(0.5)
    assert tf(17) == pytest.approx(0.25) and tf(100) == 0.25


def test_schedules_are_pure_and_round_trip():
    s = KLAnnealing("cyclical", 300, 3, 0.5, 1e-4)
    first = [s(i) for i in range(300)]
    assert [s(i) for i in range(300)] == first   # no hidden counter
    assert KLAnnealing.from_dict(s.to_dict()) == s
    tf = TeacherForcing(0.8, 2, 0.2, 0.1)
    assert TeacherForcing.from_dict(tf.to_dict()) == tf


@pytest.mark.parametrize("kwargs", [dict(kind="linear"), dict(ratio=0.0), dict(n_cycles=0),
                                    dict(total_steps=0)])
def test_invalid_kl_schedules_are_rejected(kwargs):
    with pytest.raises(ValueError):
        KLAnnealing(**kwargs)


def test_invalid_teacher_forcing_is_rejected():
    with pytest.raises(ValueError, match="tfr_floor"):
        TeacherForcing(start=0.5, floor=0.6)
    with pytest.raises(ValueError, match="tfr_start"):
        TeacherForcing(start=1.5)


def test_schedule_step_follows_the_larger_of_the_iteration_and_time_shares():
    from vidpred.config import TrainConfig
    from vidpred.schedules import schedule_step

    t = TrainConfig(iterations=1000, max_minutes=10.0)
    assert schedule_step(100, 0.0, t) == 100
    assert schedule_step(100, 300.0, t) == 500  # half the time: half the schedule
    assert schedule_step(100, 900.0, t) == 1000  # capped at the run's end
    t.max_minutes = 0.0
    assert schedule_step(100, 900.0, t) == 100  # no limit: the iteration


def test_the_schedules_share_of_a_time_limit_leaves_out_the_models_preparation():
    from vidpred.config import TrainConfig
    from vidpred.schedules import schedule_step

    t = TrainConfig(iterations=1000, max_minutes=10.0)
    # 60 s of the 600 went to preparing the model: the steps have 540
    assert schedule_step(0, 60.0, t, prepared=60.0) == 0      # the schedules start at 0
    assert schedule_step(100, 330.0, t, prepared=60.0) == 500  # half of the steps' 540 s
    assert schedule_step(100, 600.0, t, prepared=60.0) == 1000
    assert schedule_step(1, 700.0, t, prepared=700.0) == 1000  # preparing took it all


def test_schedules_read_a_runs_training_settings():
    from vidpred.config import TrainConfig
    from vidpred.schedules import Schedules

    t = TrainConfig(iterations=100, iters_per_epoch=10, beta=1e-3, kl_anneal="monotonic",
                    kl_anneal_ratio=0.5, tfr_start=1.0, tfr_decay_start=2, tfr_decay_step=0.25,
                    lr=1e-3, lr_schedule="constant")
    s = Schedules(t)
    assert s.at(0) == (0.0, 1.0, 1e-3)
    beta, tfr, lr = s.at(25)  # half way up the KL ramp, epoch 2: the first decayed one
    assert beta == pytest.approx(0.5e-3) and tfr == 0.75 and lr == 1e-3
