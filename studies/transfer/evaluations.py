"""transfer evaluations: the run's training labels per class (no torch needed)."""
from __future__ import annotations

from convstudies.evaluations import register_evaluation


@register_evaluation
def labels_per_class(model, data, cfg) -> list[dict]:
    """Training labels per class of the run (its training-set size over the number of classes)."""
    return [{"condition": "data", "metric": "labels_per_class", "value": len(data.y_train) / data.num_classes}]
