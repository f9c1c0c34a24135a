"""Spare slots per level: only where a deadline needs them.

Capacity asked for now arrives a reaction time R later (the start-up lag plus one decision period). Until
then, work that arrives above the level's mean rate queues on the slots there are. Over R, that excess has
a standard deviation of sigma x sqrt(R x P) work-seconds, for a per-round rate with standard deviation sigma
(slots) over rounds of P seconds. Spare slots s clear it in excess / s seconds, and the level's jobs may wait
their target wait T: so s = z x sigma x sqrt(R x P) / T covers the excess z standard deviations up. Where T
is shorter than sqrt(R x P) (the urgent level), the excess must be served as it comes: s = z x sigma.

So a level whose target wait is hours (background) needs almost no slack: its queue absorbs what arrives
above the mean, and the queued work raises the need within a round or two. A level with a target of a few
minutes needs slack against its own variance. A flat percentage on the whole fleet (the old
`target_slack`) paid for spare background slots that nothing needed.

Where the variance is not measured yet (a head just started), jobs are taken to arrive as a Poisson
stream: a rate of r slots of jobs of w seconds varies by sqrt(2 r w / P) per round (exponential sizes).
"""

from __future__ import annotations

import math

from autoscaler.config import AutoscalerConfig


def reaction_s(config: AutoscalerConfig) -> float:
    """How long after a rise in arrivals new capacity can take work."""
    return config.startup_lag_s + config.period_s


def poisson_spread(rate: float, run_s: float, period_s: float) -> float:
    """Standard deviation of a round's arrival rate (slots) for jobs arriving as a Poisson stream."""
    if not (rate > 0 and run_s > 0 and period_s > 0):
        return 0.0
    return math.sqrt(2 * rate * run_s / period_s)


def level_slack(spread: float, target_wait_s: float, config: AutoscalerConfig) -> float:
    """Spare slots that keep a level's waits within `target_wait_s` while arrivals run `slack_confidence`
    standard deviations (`spread`, in slots) above their mean, until new capacity can arrive."""
    if not (math.isfinite(spread) and spread > 0):
        return 0.0
    window = math.sqrt(reaction_s(config) * config.period_s)
    return config.slack_confidence * spread * min(1.0, window / max(target_wait_s, 1e-9))
