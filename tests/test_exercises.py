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
        assert not same(mistake(*args), exercise.reference(*args)), description


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
