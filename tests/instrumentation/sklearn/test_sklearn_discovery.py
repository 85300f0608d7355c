"""Which estimator methods get patched, checked against scikit-learn's own registry,
and estimators defined anywhere: in the user's code, before or after instrument()."""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble._forest import ForestClassifier
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.svm._base import BaseSVC
from sklearn.utils.discovery import all_estimators

from otel_ml.inference.call import INSTRUMENTED_METHODS
from otel_ml.instrumentation.sklearn import SklearnInstrumentor
from otel_ml.instrumentation.sklearn.discovery import patch_targets, subclasses_of
from otel_ml.instrumentation.sklearn.patch import PatchedMethod


def defining_entry(cls: type, name: str) -> object | None:
    """The ``__dict__`` entry that ``cls.name`` resolves to, or ``None``."""
    for owner in cls.__mro__:
        if name in vars(owner):
            return vars(owner)[name]
    return None


def test_targets_cover_mixins_private_bases_and_available_if():
    targets = {
        (owner, name): entry for owner, name, entry in patch_targets(subclasses_of(BaseEstimator))
    }

    assert inspect.isfunction(targets[(LinearClassifierMixin, "predict")])
    assert inspect.isfunction(targets[(ForestClassifier, "predict_proba")])
    assert not inspect.isfunction(targets[(Pipeline, "predict_proba")])  # available_if
    assert not inspect.isfunction(targets[(BaseSVC, "predict_proba")])
    assert {name for _, name in targets} == set(INSTRUMENTED_METHODS)
    assert all(entry is vars(owner)[name] for (owner, name), entry in targets.items())


def test_every_public_estimator_method_is_patched_then_restored(instrument):
    public = [cls for _, cls in all_estimators()]
    methods = [
        (cls, name) for cls in public for name in INSTRUMENTED_METHODS if defining_entry(cls, name)
    ]
    before = {(cls, name): defining_entry(cls, name) for cls, name in methods}
    assert len({cls for cls, _ in methods}) > 100

    instrument()
    unpatched = [
        f"{cls.__name__}.{name}"
        for cls, name in methods
        if not isinstance(defining_entry(cls, name), PatchedMethod)
    ]
    SklearnInstrumentor().uninstrument()

    assert unpatched == []
    assert all(defining_entry(cls, name) is entry for (cls, name), entry in before.items())


def test_patched_entries_are_skipped_by_discovery(instrument):
    instrument()

    assert patch_targets(subclasses_of(BaseEstimator), PatchedMethod) == []


class _ThresholdBefore(ClassifierMixin, BaseEstimator):
    """A user's own estimator, defined before instrument()."""

    def fit(self, x, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, x):
        return (np.asarray(x)[:, 0] > 0.5).astype(int)


def test_user_estimators_defined_before_and_after_instrument_get_one_span_each(
    telemetry, instrument
):
    instrument()

    class ThresholdAfter(_ThresholdBefore):  # defined after: the subclass hook sees it
        def predict(self, x):
            return super().predict(x)  # the inner call makes no second span

    rows = np.array([[0.9], [0.1]])
    before = _ThresholdBefore().fit(rows, [1, 0])
    after = ThresholdAfter().fit(rows, [1, 0])
    assert before.predict(rows[:1]).tolist() == [1]
    assert after.predict(rows[1:]).tolist() == [0]

    spans = {span.name: dict(span.attributes or {}) for span in telemetry.spans()}
    assert set(spans) == {"predict _ThresholdBefore", "predict ThresholdAfter"}
    assert spans["predict _ThresholdBefore"]["ml.prediction.class"] == "1"
    assert spans["predict ThresholdAfter"]["ml.prediction.class"] == "0"


def test_uninstrument_removes_the_subclass_hook_and_unpatches_later_classes(instrument):
    instrumentor = instrument()

    class Later(_ThresholdBefore):
        def predict_proba(self, x):
            return np.tile([0.5, 0.5], (len(x), 1))

    assert isinstance(vars(Later)["predict_proba"], PatchedMethod)
    assert "__init_subclass__" in vars(BaseEstimator)
    instrumentor.uninstrument()

    assert not isinstance(vars(Later)["predict_proba"], PatchedMethod)
    assert not isinstance(vars(_ThresholdBefore)["predict"], PatchedMethod)
    assert "__init_subclass__" not in vars(BaseEstimator)

    class AfterUninstrument(_ThresholdBefore):
        def predict(self, x):
            return super().predict(x)

    assert not isinstance(vars(AfterUninstrument)["predict"], PatchedMethod)
