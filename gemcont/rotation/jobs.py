"""The points of Fig. 2's sweep and the (point, method, seed) runs the figure needs.

A *point* is the default setting (``rotation.n_train``, ``h``, ``alpha_max``) or the
default with one axis swept to another value.
"""

from __future__ import annotations

from dataclasses import dataclass

from gemcont.errors import ConfigError
from gemcont.rotation.settings import RotationSettings, RunSettings

SWEEP_AXES = ("n_train", "h", "alpha_max")
DEFAULT_AXIS = "default"
RUN_PATTERN = "{root}/runs/{axis}/{value}/{method}/seed_{seed}"


@dataclass(frozen=True)
class Point:
    """One setting of Fig. 2: ``axis`` default (value default) or a swept axis and value."""

    axis: str
    value: str

    @property
    def name(self) -> str:
        return f"{self.axis}/{self.value}"


DEFAULT_POINT = Point(DEFAULT_AXIS, DEFAULT_AXIS)


def format_value(value: float) -> str:
    """A sweep value as a path component: 25000, 0.1, 15."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def parse_point(text: str) -> Point:
    """``default`` or ``axis=value`` (command line) -> Point."""
    if text == DEFAULT_AXIS:
        return DEFAULT_POINT
    axis, sep, value = text.partition("=")
    if not sep or axis not in SWEEP_AXES:
        raise ConfigError("--point", f"'{text}' is not 'default' or one of {SWEEP_AXES} '=value'")
    return Point(axis, format_value(float(value)))


def settings_at(settings: RunSettings, point: Point) -> dict[str, float]:
    """n_train, h and alpha_max of ``point`` (the defaults with one axis replaced)."""
    values = {axis: getattr(settings, axis) for axis in SWEEP_AXES}
    if point.axis == DEFAULT_AXIS:
        return values
    if point.axis not in SWEEP_AXES:
        raise ConfigError("rotation.sweeps", f"unknown sweep axis '{point.axis}'")
    value = float(point.value)
    values[point.axis] = int(value) if point.axis == "n_train" else value
    return values


def sweep_points(settings: RotationSettings) -> list[Point]:
    """The default point, then every swept value that differs from the default."""
    points = [DEFAULT_POINT]
    for axis in SWEEP_AXES:
        for value in getattr(settings.sweeps, axis):
            if format_value(value) != format_value(getattr(settings, axis)):
                points.append(Point(axis, format_value(value)))
    return list(dict.fromkeys(points))


def point_methods(settings: RotationSettings, point: Point) -> list[str]:
    """Methods run at ``point``: all at the default, ``sweeps.methods`` (or all) elsewhere."""
    if point.axis == DEFAULT_AXIS or not settings.sweeps.methods:
        return list(settings.methods)
    return [m for m in settings.methods if m in settings.sweeps.methods]


def jobs(settings: RotationSettings) -> list[tuple[Point, str, int]]:
    """Every (point, method, seed) the figure needs."""
    return [
        (point, method, seed)
        for point in sweep_points(settings)
        for method in point_methods(settings, point)
        for seed in range(settings.seeds)
    ]


def metrics_paths(settings: RotationSettings, root: str = "results/rotation") -> list[str]:
    """The metrics file of every run the figure needs (the workflow's rule inputs)."""
    return [
        RUN_PATTERN.format(root=root, axis=p.axis, value=p.value, method=m, seed=s) + "/metrics.tsv"
        for p, m, s in jobs(settings)
    ]


def memory_mb(settings: RotationSettings) -> int:
    """Memory of one run: images and genotypes of the train and test people, a few copies."""
    people = settings.n_test + max([settings.n_train, *settings.sweeps.n_train])
    per_person = 28 * 28 + 8 * (settings.n_causal + settings.n_null)
    return int(2000 + 4 * people * per_person / 10**6)
