"""Custom blocks: named pieces of content a campaign author gives a template, in variations.

A template reads a block as ``{{ blocks.<name> }}``. A block is Jinja source rendered for each
recipient in the same sandbox and with the same context as the template (HTML, autoescaped), so
``Hello {{ user.first_name }}`` works in a block too. Blocks come from the template (its
defaults) and from the shoot (``schedule_shoot(custom_blocks=...)``, or the recurring campaign's
``custom_blocks`` for every occurrence); a shoot's block replaces the template's of the same name
and variation.

A block may exist in several variations (``variation_id``): the shoot's
``custom_blocks_variation_id`` picks, for every name, the block of that variation, else the
default one (``variation_id`` None). That is how A/B content is tested: shoots (or occurrences)
that differ only by their variation id, whose sends carry the id to the email logs and the marts
(``marts.campaign_variation_stats``). A variation id no block has, or a name with neither the
variation nor a default, is a ``CustomBlocksError`` when the shoot is scheduled, patched or
planned: a typo must not send the default content to everyone under the variation's name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orchestration.campaigns.errors import CustomBlocksError


@dataclass(frozen=True)
class CustomBlock:
    """One block of content, in one variation (``variation_id`` None: the default)."""

    name: str
    content: str
    variation_id: str | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise CustomBlocksError(
                f"custom block name {self.name!r} must be an identifier (letters, digits, _)"
            )
        if not isinstance(self.content, str):
            raise CustomBlocksError(f"custom block {self.name!r}: content must be a string")
        if self.variation_id is not None and not self.variation_id.strip():
            raise CustomBlocksError(
                f"custom block {self.name!r}: variation_id must be None or a non-empty string"
            )

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "content": self.content, "variation_id": self.variation_id}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> CustomBlock:
        return cls(value["name"], value["content"], value.get("variation_id"))


def as_custom_blocks(blocks: Iterable[CustomBlock | dict[str, Any]] | None) -> list[CustomBlock]:
    """Blocks given as ``CustomBlock``s or as their JSON (``{"name", "content",
    "variation_id"}``), checked."""
    out = []
    for block in blocks or ():
        if isinstance(block, CustomBlock):
            out.append(block)
        elif isinstance(block, dict) and {"name", "content"} <= block.keys():
            out.append(CustomBlock.from_json(block))
        else:
            raise CustomBlocksError(
                f"a custom block is a CustomBlock or a dict with name and content, got {block!r}"
            )
    return out


def select_blocks(
    template_blocks: Iterable[CustomBlock],
    shoot_blocks: Iterable[CustomBlock],
    variation_id: str | None,
    *,
    where: str,
) -> dict[str, str]:
    """The source of each block name for ``variation_id`` (see the module docstring).

    ``where`` names the shoot or campaign in the error, which says what to fix.
    """
    by_key: dict[tuple[str, str | None], str] = {}
    for block in [*template_blocks, *shoot_blocks]:  # the shoot's win
        by_key[(block.name, block.variation_id)] = block.content
    variations = sorted({v for _, v in by_key if v is not None})
    if variation_id is not None and variation_id not in variations:
        known = ", ".join(variations) or "none"
        raise CustomBlocksError(
            f"{where}: custom_blocks_variation_id {variation_id!r} matches no custom block"
            f" (variations: {known})"
        )
    selected: dict[str, str] = {}
    for name in sorted({name for name, _ in by_key}):
        content = by_key.get((name, variation_id), by_key.get((name, None)))
        if content is None:
            have = ", ".join(sorted(v for n, v in by_key if n == name and v is not None))
            raise CustomBlocksError(
                f"{where}: custom block {name!r} has no default and no variation"
                f" {variation_id!r} (it has: {have}); add a default (variation_id None) or"
                " choose one of those"
            )
        selected[name] = content
    return selected
