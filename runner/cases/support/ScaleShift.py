"""A layer module named like its class. After ``import ScaleShift`` the name is the module,
and ``custom_objects={"ScaleShift": ScaleShift}`` hands Keras the module (see ``module_not_class``)."""

from my_module import MyLayerFromModule


class ScaleShift(MyLayerFromModule):
    """Seed example 3's layer under the module's name."""
