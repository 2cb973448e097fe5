"""Deal stages: label, closed and won, from pipeline metadata, options and HubSpot's defaults.

A deal carries only a stage id (``closedwon``, or a number in custom pipelines) or, in a UI
export, a stage label. The pipelines API says what each stage is, with its metadata as
strings: ``{"isClosed": "true", "probability": "1.0"}``; won means closed with probability 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    """A deal stage: its id, label, and whether it is closed and won."""

    id: str
    label: str
    is_closed: bool
    is_won: bool


#: The stages of the default sales pipeline in a new portal.
DEFAULT_STAGES = (
    Stage("appointmentscheduled", "Appointment Scheduled", False, False),
    Stage("qualifiedtobuy", "Qualified To Buy", False, False),
    Stage("presentationscheduled", "Presentation Scheduled", False, False),
    Stage("decisionmakerboughtin", "Decision Maker Bought-In", False, False),
    Stage("contractsent", "Contract Sent", False, False),
    Stage("closedwon", "Closed Won", True, True),
    Stage("closedlost", "Closed Lost", True, False),
)


def _text_flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _probability(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def stages_from_pipelines(pipelines: Sequence[Mapping[str, Any]]) -> list[Stage]:
    """Stages as the pipelines API describes them."""
    found = []
    for pipeline in pipelines:
        for stage in pipeline.get("stages", []):
            metadata = stage.get("metadata") or {}
            closed = _text_flag(metadata.get("isClosed"))
            found.append(
                Stage(
                    str(stage["id"]),
                    str(stage.get("label") or stage["id"]),
                    closed,
                    closed and _probability(metadata.get("probability")) == 1.0,
                )
            )
    return found


class StageBook:
    """Looks a stage up by id or label, case-insensitively.

    Later sources win: HubSpot's defaults, then the portal's pipelines, then the options.
    """

    def __init__(
        self, pipelines: Sequence[Mapping[str, Any]], overrides: Mapping[str, Mapping[str, Any]]
    ) -> None:
        self._by_key: dict[str, Stage] = {}
        for stage in (*DEFAULT_STAGES, *stages_from_pipelines(pipelines)):
            self._add(stage)
        for key, spec in overrides.items():
            known = self.find(key)
            label = str(spec.get("label") or (known.label if known else key))
            self._add(Stage(known.id if known else key, label, bool(spec["closed"]), bool(spec["won"])))

    def _add(self, stage: Stage) -> None:
        self._by_key[stage.id.strip().lower()] = stage
        self._by_key[stage.label.strip().lower()] = stage

    def find(self, key: str | None) -> Stage | None:
        """The stage with this id or label, if any."""
        if key is None:
            return None
        return self._by_key.get(key.strip().lower())

    def table(self) -> dict[str, Stage]:
        """Every stage, by id and by label."""
        return dict(self._by_key)
