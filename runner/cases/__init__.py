"""The reference models. One module per case; its file name is the case id.

A case module defines ``TAGS``, ``INPUT_SHAPE``, ``build()`` (a compiled, untrained model, as
its source document writes it) and ``custom_objects()`` (what the documented load passes).
Modules a case imports by their own top-level name, as a user's project would, live in
``support/``, which is put on ``sys.path`` before any case is imported.
"""

import importlib
import os
import sys

SUPPORT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "support")


def load_case(case_id):
    if SUPPORT_DIR not in sys.path:
        sys.path.insert(0, SUPPORT_DIR)
    return importlib.import_module("runner.cases." + case_id)
