# Stand-in for a kernel without ipywidgets (a grader who installed only torch, the libraries and nbval).
raise ImportError("ipywidgets is hidden by .ci/foreign: a kernel without it")
