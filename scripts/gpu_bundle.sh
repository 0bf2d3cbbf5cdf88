#!/usr/bin/env bash
# Prepare what a bare GPU machine (Python 3.12, torch and JAX there; no Jupyter, no nbval, no registry) needs for
# scripts/gpu_check.py, beside this checkout and ignored by git: .mnist/ (MNIST's four .gz files, 11 MB) and .whl/
# (cp312 wheels of what nbval and the digit pad need, at the versions this venv has). Then it prints the one command.
#   MNIST_ROOT=../shared/mnist bash scripts/gpu_bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mnist=${MNIST_ROOT:-data}
for folder in .mnist .whl; do
    grep -qx "/$folder/" .git/info/exclude 2> /dev/null || echo "/$folder/" >> .git/info/exclude
done

mkdir -p .mnist
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    found=$(find "$mnist" -name "$name.gz" | head -n 1)
    [ -n "$found" ] || { echo "no $name.gz under $mnist" >&2; exit 1; }
    cp "$found" .mnist/
done

packages="nbval nbformat nbclient jupyter_client jupyter_core ipykernel ipython ipython_pygments_lexers traitlets pyzmq
tornado comm debugpy nest_asyncio platformdirs matplotlib-inline jedi parso prompt_toolkit wcwidth pexpect ptyprocess
decorator stack_data executing asttokens pure_eval fastjsonschema jsonschema jsonschema-specifications referencing
rpds-py anywidget ipywidgets widgetsnbextension jupyterlab_widgets psygnal typing_extensions"
pins=()
for package in $packages; do
    pins+=("$(.venv/bin/python -m pip freeze 2> /dev/null | grep -i "^${package//_/[-_]}==" || echo "$package")")
done
rm -rf .whl && mkdir .whl
.venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "${pins[@]}" \
    2> >(grep -v "is ignored: it is neither" >&2)
du -sh .mnist .whl
echo "On the GPU machine (carry .mnist and .whl):"
echo "  PYTHONUNBUFFERED=1 python3 scripts/gpu_check.py --mnist .mnist --wheels .whl --output \$OUT/gpu_check.md"
