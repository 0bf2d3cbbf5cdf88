"""Stand-in for Colab's `google.colab` module: its presence is how the notebook knows it runs in Colab."""
