"""Seed example 3 after its module vanished: saved from ``my_layers``, loaded where neither
that module nor the class exists, so nothing can be passed in ``custom_objects``."""

from runner.cases import module_moved

TAGS = ("extra",)
INPUT_SHAPE = module_moved.INPUT_SHAPE


def build():
    return module_moved.build()


def custom_objects():
    return {}
