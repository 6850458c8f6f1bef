# Sourced by the other scripts: makes libtorch 2.11.0 available to the build.
#
# Order of preference:
#   1. LIBTORCH already set (a libtorch 2.11 folder with include/ and lib/, or a torch package dir);
#   2. SOTL_NAS_TORCH_PYTHON set to a Python whose torch is 2.11.0;
#   3. a virtual environment kept in the user's cache, keyed by the torch version, created on first
#      use with `pip install torch==2.11.0` from PyPI and reused afterwards (also across checkouts).
set -euo pipefail

SOTL_TORCH_VERSION=2.11.0
SOTL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_torch_ok() { # python -> success when it imports torch at the pinned version
  "$1" -c "import torch,sys; sys.exit(0 if torch.__version__.split('+')[0]=='$SOTL_TORCH_VERSION' else 1)" \
    >/dev/null 2>&1
}

sotl_ensure_libtorch() {
  if [[ -n "${LIBTORCH:-}" ]]; then
    [[ -d "$LIBTORCH/lib" ]] || { echo "error: LIBTORCH=$LIBTORCH has no lib/ folder" >&2; return 1; }
    return 0
  fi
  local py
  if [[ -n "${SOTL_NAS_TORCH_PYTHON:-}" ]]; then
    py="$SOTL_NAS_TORCH_PYTHON"
    _torch_ok "$py" || { echo "error: SOTL_NAS_TORCH_PYTHON=$py has no torch $SOTL_TORCH_VERSION" >&2; return 1; }
  else
    local venv="${SOTL_NAS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/sotl-nas/torch-$SOTL_TORCH_VERSION}"
    py="$venv/bin/python"
    # Fast path: the paths recorded after a verified install (starting Python costs seconds).
    local stamp="$venv/.sotl-libtorch"
    if [[ -f "$stamp" ]]; then
      local lt abi
      { read -r lt; read -r abi; } <"$stamp"
      if [[ -f "$lt/lib/libtorch_cpu.so" && -f "$lt/include/torch/script.h" ]]; then
        export LIBTORCH="$lt" LIBTORCH_CXX11_ABI="$abi" SOTL_NAS_TORCH_PYTHON="$py"
        return 0
      fi
    fi
    if ! _torch_ok "$py"; then
      mkdir -p "$(dirname "$venv")"
      # One installer at a time; a second caller waits, then finds the finished venv.
      (
        flock 9
        if ! _torch_ok "$py"; then
          echo "sotl-nas: installing torch==$SOTL_TORCH_VERSION from PyPI into $venv (once; ~2 min, ~4.6 GB)" >&2
          local base=python3
          command -v python3 >/dev/null || { echo "error: python3 is needed to install torch" >&2; exit 1; }
          [[ -x "$venv/bin/pip" ]] || "$base" -m venv "$venv"
          "$venv/bin/pip" install --disable-pip-version-check --quiet "torch==$SOTL_TORCH_VERSION" >&2
          _torch_ok "$py" || { echo "error: torch $SOTL_TORCH_VERSION did not import after install in $venv" >&2; exit 1; }
        fi
      ) 9>"$(dirname "$venv")/.install.lock"
    fi
  fi
  LIBTORCH="$("$py" -c 'import torch,os;print(os.path.dirname(torch.__file__))' 2>/dev/null)"
  LIBTORCH_CXX11_ABI="$("$py" -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null)"
  export LIBTORCH LIBTORCH_CXX11_ABI
  export SOTL_NAS_TORCH_PYTHON="$py"
  if [[ -n "${venv:-}" ]]; then
    printf '%s\n%s\n' "$LIBTORCH" "$LIBTORCH_CXX11_ABI" >"$venv/.sotl-libtorch.tmp" && mv "$venv/.sotl-libtorch.tmp" "$venv/.sotl-libtorch"
  fi
}
