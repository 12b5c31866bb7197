"""The exercise checker: correct answers pass, each known mistake gets its own diagnosis."""

import pytest

from exda_lite.course.exercises import EXERCISES, check


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_reference_passes(name, capsys):
    assert check(name, EXERCISES[name].reference)
    assert "✅" in capsys.readouterr().out


@pytest.mark.parametrize("name,index", [(n, i) for n, ex in sorted(EXERCISES.items()) for i in range(len(ex.mistakes))])
def test_each_known_mistake_is_diagnosed(name, index, capsys):
    description, mistake = EXERCISES[name].mistakes[index]
    assert not check(name, mistake)
    out = capsys.readouterr().out
    assert "❌" in out and description in out


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_mistakes_are_distinguishable_from_the_reference(name):
    exercise = EXERCISES[name]
    args = exercise.make_inputs(0)
    from exda_lite.course.exercises import same
    for description, mistake in exercise.mistakes:
        assert not same(exercise.outcome(mistake, args), exercise.outcome(exercise.reference, args)), description


def test_unattempted_exercise_does_not_crash(capsys):
    def todo(*args):
        raise NotImplementedError
    assert not check("psnr", todo)
    assert "not attempted yet" in capsys.readouterr().out


def test_student_exception_and_none_are_reported(capsys):
    assert not check("psnr", lambda p, t: p.undefined_method())
    assert "AttributeError" in capsys.readouterr().out
    assert not check("psnr", lambda p, t: None)
    assert "forget `return`" in capsys.readouterr().out


def test_wrong_shape_is_reported(capsys):
    assert not check("psnr", lambda p, t: (p - t).pow(2).mean())
    assert "wrong shape" in capsys.readouterr().out


# ----------------------------------------------------------------------------- course_nbs: other correct answers pass
def test_runner_exercise_compares_outcomes_of_student_steps(capsys):
    """training_step: a student's own correct step (not the reference object) passes; variants of it too."""
    import torch.nn.functional as F

    from exda_lite.training.losses import fourier_loss

    def my_train_step(model, optimizer, scheduler, degraded, clean, loss_fn):
        optimizer.zero_grad(set_to_none=False)
        restored = model(degraded)
        loss = F.l1_loss(restored, clean) + 0.1 * fourier_loss(restored, clean)
        loss.backward()
        optimizer.step()
        scheduler.step()
        return loss  # a tensor, not .item(): also accepted

    assert check("training_step", my_train_step)
    assert "correct on 1 random test case." in capsys.readouterr().out
    assert not check("training_step", lambda *args: None)
    assert "returned None" in capsys.readouterr().out


def test_exda_attention_from_scratch_passes():
    """The capstone's model solution (the one in the notebook cell) matches exda_lite.nn.attention."""
    from exda_lite.course.exercises.course_nbs import attention_variant

    assert check("exda_attention", attention_variant, verbose=False)


def test_explicit_seeds_override_the_exercises_own():
    assert check("paired_t", EXERCISES["paired_t"].reference, seeds=(3, 4), verbose=False)
