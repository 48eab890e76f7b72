"""The issue classifier: is an item about US–China relations, and which issues, with evidence.

`load_classifier(issues_file)` gives a `Classifier` for the taxonomy in `config/issues.yaml` and the
model shipped in `flows/classify/data/` (or a folder `uschina-digest train` wrote);
`classifier.classify(title, text)` returns a `Classification`: calibrated scores, and for every label
the sentences and terms that support it (offsets into `joined_text(title, text)`).
How a label is decided: `classifier.py`; how the model is fitted and measured: `training.py`.
"""

from flows.classify.classifier import (
    PACKAGED_MODEL,
    Classifier,
    classifier_for,
    load_classifier,
    trained_model_dir,
)
from flows.classify.model import ModelError
from flows.classify.text import joined_text

__all__ = [
    "Classifier",
    "load_classifier",
    "classifier_for",
    "trained_model_dir",
    "joined_text",
    "PACKAGED_MODEL",
    "ModelError",
]
