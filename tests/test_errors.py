import pytest

from acie import errors


def all_error_classes():
    return [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type)
        and issubclass(obj, Exception)
        and obj.__module__ == errors.__name__
    ]


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_is_an_acie_error_and_a_builtin(cls):
    assert issubclass(cls, errors.AcieError)
    if cls is not errors.AcieError:
        builtin_bases = [
            b
            for b in cls.__mro__
            if b.__module__ == "builtins" and b not in (object, Exception, BaseException)
        ]
        assert builtin_bases, f"{cls.__name__} should also inherit a matching built-in"


def test_documented_tree_names_every_class():
    doc = errors.__doc__
    for cls in all_error_classes():
        assert cls.__name__ in doc


def test_cycle_error_names_the_cycle():
    exc = errors.CycleError(["a", "b", "c"])
    assert "a -> b -> c -> a" in str(exc)
    assert isinstance(exc, ValueError)


def test_unknown_node_lists_known_nodes_and_is_catchable_as_value_and_lookup():
    exc = errors.UnknownNodeError("z", ["x", "y"])
    assert "'z'" in str(exc)
    assert "x, y" in str(exc)
    with pytest.raises(ValueError, match="'z'"):
        raise exc
    with pytest.raises(LookupError):
        raise errors.UnknownNodeError("z", ["x"])
    assert isinstance(exc, errors.InvalidInterventionError)


def test_expected_got_message():
    assert errors.expected_got("mass", "> 0 GeV", -1.0) == "mass must be > 0 GeV; got -1.0"


def test_rate_limit_error_carries_retry_after_and_survives_pickling():
    import pickle

    exc = errors.RateLimitError("slow down", retry_after_s=2.5)
    assert str(exc) == "slow down"
    assert exc.retry_after_s == 2.5
    again = pickle.loads(pickle.dumps(exc))
    assert again.retry_after_s == 2.5
    assert str(again) == "slow down"
    assert errors.RateLimitError("queue is full").retry_after_s is None
