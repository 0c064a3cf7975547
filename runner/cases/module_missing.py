"""Seed example 3 after its module vanished: saved from ``my_layers``, loaded where neither
that module nor the class exists, so nothing can be passed in ``custom_objects``."""

from runner.cases import module_moved

TAGS = ("extra",)
INPUT_SHAPE = module_moved.INPUT_SHAPE
REQUIRES = module_moved.REQUIRES


def build():
    return module_moved.build()


def rebuild():
    """The code as it reads where the module is gone: its import fails, as a user's would."""
    import my_layers  # noqa: F401  # not on the path of a loading process

    return module_moved.build()


def custom_objects():
    return {}
