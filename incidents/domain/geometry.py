"""Areas of the map, in degrees (WGS 84)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BoundingBox:
    """An area of the map, in degrees (WGS 84). west > east means it crosses the antimeridian."""

    west: float
    south: float
    east: float
    north: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    @property
    def width(self) -> float:
        """Degrees of longitude covered, counting across the antimeridian when it is crossed."""
        return self.east - self.west + (360.0 if self.crosses_antimeridian else 0.0)

    @property
    def height(self) -> float:
        return self.north - self.south

    def __str__(self) -> str:
        return ",".join(f"{value:g}" for value in (self.west, self.south, self.east, self.north))


WORLD = BoundingBox(-180.0, -90.0, 180.0, 90.0)
