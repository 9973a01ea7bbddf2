"""A fix for line-based widgets that change size in place (a list hidden beside them, a list that
shrinks): Textual marks only the old size's area for repainting, which leaves the old cells of the
grown part on the terminal (old columns after the Logs file list is hidden, a stray letter where a
shorter findings list ended)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.geometry import Region, Size

# A mixin (first among the bases, before the ScrollView it fixes): as a subclass of ScrollView it
# would hide the component classes of a widget like OptionList.
if TYPE_CHECKING:
    from textual.scroll_view import ScrollView as _Base
else:
    _Base = object


class RepaintOnResize(_Base):
    """Put before a ScrollView among the bases: the whole new size is repainted on a resize."""

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        resized = size != self._size
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if resized:
            self.refresh(Region(0, 0, size.width, size.height))
        return changed
