"""The evidence features the stacker turns into calibrated probabilities.

A passing mention in a list of topics is handled inside the term evidence (its weight is
discounted), not learned here: the rule comes from the taxonomy, and a few labelled lists must not
be able to overturn it.

Training (`flows.classify.training`) and prediction (`Classifier`) both build feature vectors
here, so the two can never drift apart. The defaults are used when no model folder is available
(a new taxonomy before its first `train`): terms alone, scaled like the original keyword scorer.
"""

from __future__ import annotations

import math

from flows.classify.model import Stacker
from flows.classify.terms import IssueEvidence

MODEL_CLIP = 6.0

ISSUE_FEATURES = ["term", "title", "model", "head"]
RELEVANCE_FEATURES = ["us", "china", "stake", "pair", "issue", "model"]

_US, _CHINA, _STAKE, _ISSUE = (RELEVANCE_FEATURES.index(name) for name in ("us", "china", "stake", "issue"))

DEFAULT_ISSUE_STACKER = Stacker(ISSUE_FEATURES, [2.2, 0.5, 0.0, 0.0], -3.1)
DEFAULT_RELEVANCE_STACKER = Stacker(RELEVANCE_FEATURES, [0.6, 0.6, 0.8, 2.5, 0.3, 0.0], -2.4)


def clip_logit(value: float | None) -> float:
    if value is None:
        return 0.0
    return max(-MODEL_CLIP, min(MODEL_CLIP, float(value)))


def issue_features(ev: IssueEvidence, model_logit: float | None, head_logit: float | None) -> list[float]:
    """Term strength, whether the title carries the issue, the text model's logit and the
    embedding head's (a missing one is neutral: 0)."""
    return [math.log1p(ev.raw), 1.0 if ev.title_raw > 0 else 0.0, clip_logit(model_logit),
            clip_logit(head_logit)]


def relevance_prob(stacker: Stacker, row: list[float]) -> float:
    """The relevance stacker's probability for a row of `relevance_features`, except that an item
    naming one side only, with no shared stake and no issue cue, is not relevant: nothing in its
    text bears on the other side (the taxonomy's rule on domestic affairs). The learned parts
    cannot say this alone: in a corpus of China news the text model reads "about China" as
    relevant, so a toy craze or a fireworks blast in China scored 0.9 and 0.7."""
    if not (row[_US] and row[_CHINA]) and not row[_STAKE] and not row[_ISSUE]:
        return 0.0
    return stacker.prob(row)


def relevance_features(us: float, china: float, stake: float, paired_share: float, max_issue_raw: float,
                       model_logit: float | None) -> list[float]:
    return [math.log1p(us), math.log1p(china), math.log1p(stake), paired_share,
            math.log1p(max_issue_raw), clip_logit(model_logit)]
