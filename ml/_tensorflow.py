"""Import TensorFlow and Keras quietly; every TensorFlow user imports them from here.

The environment must be set before TensorFlow's first import, which is why
this module exists: ``TF_CPP_MIN_LOG_LEVEL=2`` keeps its C++ start-up notices
(CPU features, oneDNN) off the command line's output, and Keras 3 is pinned
to the TensorFlow backend.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# oneDNN reorders float sums by CPU type; off, the same seed gives the same
# weights on any x86 machine (and TensorFlow stops announcing it).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras
import tensorflow as tf

__all__ = ["keras", "tf"]
