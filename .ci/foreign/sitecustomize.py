# Loaded at every interpreter start when this folder is on PYTHONPATH, the notebook's kernel included:
# `google.colab` is then in sys.modules, as it is in a Colab runtime.
import google.colab  # noqa: F401
