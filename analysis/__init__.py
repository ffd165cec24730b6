"""Turning accelerometer samples into meaning: postures, sitting bouts, breaks and alerts.

Pure and I/O-free; the live worker and ``sitless analyze`` both call ``Analyzer``
(batch is the same analyser fed one chunk).
"""

from analysis.adherence import Adherence, Done, adherence
from analysis.alerts import next_working_time
from analysis.analyzer import Analyzer
from analysis.events import (
    ActionApplied,
    Alert,
    BreakTaken,
    DataGap,
    Event,
    LiveStatus,
    PostureBout,
    SittingBout,
    SittingStarted,
    SlouchNudge,
    TimeJump,
)
from analysis.plan import Plan, PlanItem, Schedule, Weekday, default_plan
from analysis.programme import EXERCISES, PROGRAMME, Exercise, exercise_by_id, suggest_stretch
from analysis.result import AnalysisResult, ResultBuilder, analyze
from analysis.settings import (
    THORAX,
    AlertPolicy,
    AnalysisSettings,
    Placement,
    Posture,
    PostureTuning,
    SlouchPolicy,
    UserAction,
)

__all__ = [
    "EXERCISES",
    "PROGRAMME",
    "THORAX",
    "ActionApplied",
    "Adherence",
    "Alert",
    "AlertPolicy",
    "AnalysisResult",
    "AnalysisSettings",
    "Analyzer",
    "BreakTaken",
    "DataGap",
    "Done",
    "Event",
    "Exercise",
    "LiveStatus",
    "Placement",
    "Plan",
    "PlanItem",
    "Posture",
    "PostureBout",
    "PostureTuning",
    "ResultBuilder",
    "Schedule",
    "SittingBout",
    "SittingStarted",
    "SlouchNudge",
    "SlouchPolicy",
    "TimeJump",
    "UserAction",
    "Weekday",
    "adherence",
    "analyze",
    "default_plan",
    "exercise_by_id",
    "next_working_time",
    "suggest_stretch",
]
