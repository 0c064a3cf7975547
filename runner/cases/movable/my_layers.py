"""A user's layer module that moves: saved while importable as top-level ``my_layers``,
loaded after it moved into a package (``runner.cases.movable.my_layers``) or vanished."""

from my_module import MyLayerFromModule


class MovableLayer(MyLayerFromModule):
    """Seed example 3's layer under its own name, so its module is the only thing that moves."""
