"""Command-line options of the analysis policies, shared by ``sitless analyze`` and ``sitless worker``.

The alert policy (DESIGN.md, "Alert policy") and the slouch policy of chest and
upper-back sensors are set the same way for a recording and for live wearers; the
defaults are those of ``analysis.AlertPolicy`` and ``analysis.SlouchPolicy``.
"""

from __future__ import annotations

import argparse

from analysis import AlertPolicy, SlouchPolicy

__all__ = ["add_policy_arguments", "alert_policy", "float_option", "slouch_policy"]

#: Dwell of a slouch nudge when none is given (``--slouch-nudge-s`` turns nudges on).
_UNUSED_DWELL_S = SlouchPolicy().dwell_s


def float_option(
    parser: argparse.ArgumentParser,
    name: str,
    help_text: str,
    default: float | None = None,
    metavar: str | None = None,
) -> None:
    """Add a float option; a default other than None is named at the end of its help."""
    named = "" if default is None else " (default %(default)s)"
    parser.add_argument(name, type=float, default=default, metavar=metavar, help=help_text + named)


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the policy options to a command.

    They are ``--max-sitting-min``, ``--min-break-s``, ``--min-run-s``, ``--min-sitting-bout-s``,
    ``--slouch-deg`` and ``--slouch-nudge-s``.
    """
    policy, slouch = AlertPolicy(), SlouchPolicy()
    float_option(parser, "--max-sitting-min", "alert after this many minutes of sitting", policy.max_sitting_s / 60.0)
    float_option(parser, "--min-break-s", "shortest standing/walking run that counts as a break", policy.min_break_s)
    float_option(
        parser,
        "--min-run-s",
        "shortest sitting or non-sitting run that changes whether the wearer is seated",
        policy.min_run_s,
    )
    float_option(
        parser,
        "--min-sitting-bout-s",
        "sitting bouts shorter than this are not counted as bouts",
        policy.min_sitting_bout_s,
    )
    float_option(
        parser, "--slouch-deg", "chest/upper back: inclination from upright counted as slouching", slouch.slouch_deg
    )
    float_option(
        parser,
        "--slouch-nudge-s",
        "chest/upper back: raise a slouch nudge after this long slouching (default: off)",
        metavar="SECONDS",
    )


def alert_policy(
    args: argparse.Namespace, working_hours: tuple[float, float] | None = None, utc_offset_h: float = 0.0
) -> AlertPolicy:
    """The alert policy the options of ``add_policy_arguments`` ask for.

    Args:
        args: The parsed options.
        working_hours: ``AlertPolicy.working_hours``.
        utc_offset_h: ``AlertPolicy.utc_offset_h``.

    Raises:
        ValueError: A value out of range (the message names it).
    """
    return AlertPolicy(
        max_sitting_s=args.max_sitting_min * 60.0,
        min_break_s=args.min_break_s,
        min_run_s=args.min_run_s,
        min_sitting_bout_s=args.min_sitting_bout_s,
        working_hours=working_hours,
        utc_offset_h=utc_offset_h,
    )


def slouch_policy(args: argparse.Namespace) -> SlouchPolicy:
    """The slouch policy the options of ``add_policy_arguments`` ask for (nudges on with ``--slouch-nudge-s``).

    Raises:
        ValueError: A value out of range (the message names it).
    """
    nudge_s: float | None = args.slouch_nudge_s
    return SlouchPolicy(
        slouch_deg=args.slouch_deg,
        nudge=nudge_s is not None,
        dwell_s=_UNUSED_DWELL_S if nudge_s is None else nudge_s,
    )
